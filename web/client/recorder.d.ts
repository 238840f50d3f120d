// Type declarations for recorder.js (hand-written). See recorder.js for how
// the recorder sees both directions without patching anything.

export declare const VERSION: string;

/** A CIF postMessage envelope (request, event or answer). */
export interface Envelope {
  messageType?: string;
  messageData?: unknown;
  messageCorrelationId?: string | number;
  messageOutcome?: "success" | "failure";
  [k: string]: unknown;
}

/** First line of a capture file. */
export interface CaptureHeader {
  format: "cifbridge-capture";
  version: 1;
  bridge: string;
  profile: "cif1" | "cif2";
  timeoutMs: number;
  started: string;
  session: string;
  source: "postmessage";
}

/** One recorded envelope. dir "in" = widget → main window, "out" = main window → widget. */
export interface CaptureFrame {
  t: string;
  session: string;
  peer: "widget";
  dir: "in" | "out";
  msg: unknown;
}

export interface RecorderOptions {
  /** The window the recorder runs in; default globalThis.window. */
  window?: any;
  /** "widget" (inside the CIF iframe) or "main" (the Dynamics main window); default from window.top === window. */
  side?: "widget" | "main";
  /** Capture header profile; default "cif1". */
  profile?: "cif1" | "cif2";
  /** Capture header timeout; default 10000 (cif1) or 100000 (cif2). */
  timeoutMs?: number;
  /** Session id for the header and frames; default "rec-<random>". */
  session?: string;
  /** Which messages to record; default isEnvelope. */
  filter?: (data: unknown) => boolean;
  /** Frames kept at most (later ones are counted in dropped); default 100000. */
  maxFrames?: number;
  /** Start listening at once; default true. */
  autoStart?: boolean;
  /** Clock, for tests. */
  now?: () => Date;
}

export declare class Recorder {
  constructor(options?: RecorderOptions);
  readonly window: any;
  readonly side: "widget" | "main";
  profile: "cif1" | "cif2";
  timeoutMs: number;
  session: string;
  started: Date | null;
  dropped: number;
  readonly frames: CaptureFrame[];
  start(): this;
  stop(): this;
  clear(): this;
  /** Records one envelope by hand. */
  record(dir: "in" | "out", envelope: unknown, t?: Date | number): void;
  /** Opt-in outgoing recording: post through the returned object instead of target. */
  wrapPostMessage(target: { postMessage(message: any, targetOrigin: string, transfer?: Transferable[]): void }): {
    postMessage(message: any, targetOrigin: string, transfer?: Transferable[]): void;
    readonly target: unknown;
  };
  header(): CaptureHeader;
  /** JSONL: header line then one line per frame, "\n"-terminated. */
  export(): string;
  /** Saves export() as a file; returns the file name. */
  download(filename?: string): string;
}

export declare function createRecorder(options?: RecorderOptions): Recorder;
/** Map → object (recursively), Set → array, Date → ISO string; functions dropped. */
export declare function toPlain(value: unknown): unknown;
export declare function isEnvelope(data: unknown): data is Envelope;
/** Joins captures recorded on both sides into one, sorted by time. */
export declare function mergeCaptures(...texts: string[]): string;
