// records.js: the record area of the main window over the emulator's
// Dataverse Web API face (/api/data/v9.2/): entity lists, a record form,
// search results. Phone fields on a form are click-to-act; every
// navigation is reported to onNavigate (the page raises onpagenavigate).

const WEBAPI = "/api/data/v9.2/";

/** Columns whose value is a phone number (click-to-act on the form). */
const PHONE = /^(telephone\d*|mobilephone|address\d_telephone\d|phone\w*|fax)$/i;

/** Columns shown in a list, per entity; others show the primary name. */
const LIST_COLUMNS = {
  contact: ["fullname", "emailaddress1", "telephone1", "mobilephone"],
  account: ["name", "telephone1", "emailaddress1"],
  incident: ["title", "ticketnumber"],
};

const TITLES = { contact: "Contacts", account: "Accounts", incident: "Cases" };

/** An HTTP failure of the Web API, with Dataverse's message. */
export class WebApiError extends Error {}

export class Records {
  /**
   * @param {HTMLElement} view where the views render
   * @param {{token: string, onNavigate: (page: object) => void, onClickToAct: (data: object) => void, log: Function}} o
   */
  constructor(view, o) {
    this.view = view;
    this.o = o;
    this.current = null; // {kind: "list"|"form"|"search", entity, id?, ...}
    this.meta = new Map(); // logical name → {set, primary}
  }

  async webapi(path) {
    const headers = { Accept: "application/json" };
    if (this.o.token) headers.Authorization = "Bearer " + this.o.token;
    const res = await fetch(WEBAPI + path, { headers, cache: "no-store" });
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    if (!res.ok) {
      const msg = body && body.error && body.error.message ? body.error.message : res.status + " " + res.statusText;
      throw new WebApiError(msg);
    }
    return body;
  }

  /** The entity set and primary name column of an entity (from its metadata). */
  async entity(name) {
    let m = this.meta.get(name);
    if (m) return m;
    m = { set: name + "s", primary: name === "contact" ? "fullname" : name === "incident" ? "title" : "name" };
    try {
      const d = await this.webapi(`EntityDefinitions(LogicalName='${encodeURIComponent(name)}')?$select=EntitySetName,PrimaryNameAttribute`);
      if (d && d.EntitySetName) m.set = d.EntitySetName;
      if (d && d.PrimaryNameAttribute) m.primary = d.PrimaryNameAttribute;
    } catch {
      /* an entity the schema does not know: keep the guess */
    }
    this.meta.set(name, m);
    return m;
  }

  navigated(page) {
    this.current = page;
    for (const a of document.querySelectorAll("[data-nav]")) {
      a.toggleAttribute("aria-current", page.kind === "list" && a.dataset.nav === page.entity);
      if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
    }
    const q = new URLSearchParams({ pagetype: page.kind === "form" ? "entityrecord" : page.kind === "list" ? "entitylist" : "search", etn: page.entity });
    if (page.id) q.set("id", page.id);
    this.o.onNavigate({ value: `${location.origin}/main.aspx?${q}` });
  }

  render(title, ...nodes) {
    const h1 = document.createElement("h1");
    h1.textContent = title;
    this.view.replaceChildren(h1, ...nodes);
  }

  fail(title, err) {
    const p = document.createElement("p");
    p.className = "empty";
    p.dataset.testid = "view-error";
    p.textContent = err.message;
    this.render(title, p);
  }

  async showList(entity) {
    const title = "Active " + (TITLES[entity] || entity);
    try {
      const m = await this.entity(entity);
      const cols = LIST_COLUMNS[entity] || [m.primary];
      const d = await this.webapi(`${m.set}?$select=${cols.join(",")}&$top=50`);
      this.render(title, this.table(entity, m, cols, (d && d.value) || []));
      this.view.dataset.view = "list";
    } catch (err) {
      this.fail(title, err);
    }
    this.navigated({ kind: "list", entity });
  }

  /** A list of records (array, or CIF's {"0":…,"1":…} search result). */
  table(entity, m, cols, rows) {
    const t = document.createElement("table");
    t.dataset.testid = "record-list";
    const head = t.createTHead().insertRow();
    for (const c of cols) head.append(Object.assign(document.createElement("th"), { textContent: c }));
    const body = t.createTBody();
    const idCol = entity + "id";
    for (const r of rows) {
      const tr = body.insertRow();
      cols.forEach((c, i) => {
        const td = tr.insertCell();
        const v = r[c] === undefined || r[c] === null ? "" : String(r[c]);
        if (i === 0 && r[idCol]) {
          const a = Object.assign(document.createElement("a"), { href: "#", textContent: v || "(no name)" });
          a.addEventListener("click", (ev) => {
            ev.preventDefault();
            this.showForm(entity, r[idCol]);
          });
          td.append(a);
        } else td.textContent = v;
      });
    }
    if (rows.length === 0) {
      const td = body.insertRow().insertCell();
      td.colSpan = cols.length;
      td.className = "empty";
      td.textContent = "No records found.";
    }
    return t;
  }

  /**
   * Opens a record's form; without id, a new-record form filled with
   * params (openForm's entityFormParameters).
   */
  async showForm(entity, id, params) {
    const m = await this.entity(entity);
    const title = id ? "" : "New " + (TITLES[entity] || entity).replace(/s$/, "");
    try {
      const rec = id ? await this.webapi(`${m.set}(${encodeURIComponent(id)})`) : params || {};
      const form = document.createElement("div");
      form.className = "form";
      form.dataset.testid = "record-form";
      form.dataset.entity = entity;
      if (id) form.dataset.id = id;
      for (const [k, v] of Object.entries(rec)) {
        if (k.includes("@") || k.startsWith("_") || v === null || typeof v === "object") continue;
        form.append(this.field(entity, k, v));
      }
      const stamp = document.createElement("div");
      stamp.className = "refreshed";
      stamp.dataset.testid = "form-refreshed";
      stamp.textContent = "loaded " + new Date().toLocaleTimeString();
      form.append(stamp);
      this.render(title || String(rec[m.primary] || id), form);
      this.view.dataset.view = "form";
    } catch (err) {
      this.fail(title || `${entity} ${id}`, err);
    }
    this.navigated({ kind: "form", entity, id });
  }

  field(entity, name, value) {
    const row = document.createElement("div");
    row.className = "field";
    const label = Object.assign(document.createElement("label"), { textContent: name });
    let val;
    if (PHONE.test(name) && String(value) !== "") {
      val = Object.assign(document.createElement("button"), { type: "button", className: "phone", textContent: String(value) });
      val.dataset.testid = "phone-" + name;
      val.title = "Click to call";
      val.addEventListener("click", () =>
        this.o.onClickToAct({ value: String(value), name, format: "phone", entityLogicalName: entity }),
      );
    } else {
      val = Object.assign(document.createElement("span"), { textContent: String(value) });
      val.dataset.field = name;
    }
    row.append(label, val);
    return row;
  }

  /** refreshForm: reloads the form shown (a list or search is reloaded too). */
  async refresh() {
    const c = this.current;
    if (!c) return;
    if (c.kind === "form" && c.id) await this.showForm(c.entity, c.id);
    else if (c.kind === "list") await this.showList(c.entity);
    else if (c.kind === "search") await this.showSearch(c.entity, c.search);
  }

  /** renderSearchPage and the app bar's search: records whose primary name contains text. */
  async showSearch(entity, text) {
    const title = `Search results for "${text}"`;
    try {
      const m = await this.entity(entity);
      const cols = LIST_COLUMNS[entity] || [m.primary];
      const filter = text ? `&$filter=contains(${m.primary},'${String(text).replace(/'/g, "''")}')` : "";
      const d = await this.webapi(`${m.set}?$select=${cols.join(",")}${filter}&$top=50`);
      this.render(title, this.table(entity, m, cols, (d && d.value) || []));
      this.view.dataset.view = "search";
    } catch (err) {
      this.fail(title, err);
    }
    this.navigated({ kind: "search", entity, search: text });
  }

  /**
   * searchAndOpenRecords' answer: the records the bridge found ({"0":…}).
   * Like Dynamics, one match with searchOnly false opens its form.
   */
  async showResults(entity, result, searchOnly) {
    const rows = result && typeof result === "object" ? Object.values(result).filter((r) => r && typeof r === "object") : [];
    const m = await this.entity(entity);
    if (!searchOnly && rows.length === 1 && rows[0][entity + "id"]) {
      await this.showForm(entity, rows[0][entity + "id"]);
      return;
    }
    const cols = LIST_COLUMNS[entity] || [m.primary];
    this.render(`Search results (${rows.length})`, this.table(entity, m, cols, rows));
    this.view.dataset.view = "search";
    this.navigated({ kind: "search", entity });
  }
}
