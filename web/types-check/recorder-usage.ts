// Typed usage of recorder.d.ts.
import { createRecorder, mergeCaptures, type CaptureFrame, type CaptureHeader } from "cifbridge-client/recorder";

const rec = createRecorder({ profile: "cif1", session: "rec-demo" });
const top = rec.wrapPostMessage(window.top!);
top.postMessage({ messageType: "getmode", messageData: new Map(), messageCorrelationId: "x1" }, "https://org.crm.dynamics.com");
const header: CaptureHeader = rec.header();
const frames: CaptureFrame[] = rec.frames;
const text: string = mergeCaptures(rec.export());
const file: string = rec.download("capture.jsonl");
rec.stop();
console.log(header.session, frames.length, text.length, file);
