// eventexport console: small enhancements over pages that work as plain forms.
(function () {
  "use strict";
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const REFRESH_MS = 3000;

  // Dialogs: native <dialog> keeps focus inside and closes on Escape.
  function openDialog(dialog) {
    if (!dialog.open) dialog.showModal();
    const bad = $("[aria-invalid=true]", dialog);   // a fieldset (the events) is not focusable: its first input is
    const target = bad ? (bad.matches("fieldset") ? $("input", bad) : bad) : $("select, input:not([type=hidden])", dialog);
    if (target) target.focus();
    const why = bad && document.getElementById(bad.getAttribute("aria-describedby"));
    if (why) why.scrollIntoView({ block: "nearest" });   // the whole message, not only its field, in view
  }
  $$("[data-open-dialog]").forEach((button) => button.addEventListener("click", () => {
    openDialog(document.getElementById(button.dataset.openDialog));
  }));
  $$("[data-close-dialog]").forEach((button) => button.addEventListener("click", () => button.closest("dialog").close()));

  // A refusal shown beside a field goes away once that field is changed.
  $$("dialog [aria-invalid=true]").forEach((input) => input.addEventListener("change", () => {
    input.removeAttribute("aria-invalid");
    const message = document.getElementById(input.getAttribute("aria-describedby"));
    if (message) message.hidden = true;
  }));

  // Create Export: show the inputs that the chosen type and frequency use.
  const exportType = $("#export_type");
  function syncVisibility() {
    const frequency = ($("input[name=frequency]:checked") || {}).value;
    $$("[data-show-when-type]").forEach((el) => { el.hidden = !exportType || exportType.value !== el.dataset.showWhenType; });
    $$("[data-show-when-frequency]").forEach((el) => { el.hidden = frequency !== el.dataset.showWhenFrequency; });
  }
  if (exportType) exportType.addEventListener("change", syncVisibility);
  $$("input[name=frequency]").forEach((radio) => radio.addEventListener("change", syncVisibility));
  syncVisibility();

  // Events: a searchable multi-select over the store's event names.
  const search = $("[data-event-search]");
  const list = $("[data-event-list]");
  function syncEvents() {
    if (!list) return;
    const query = (search.value || "").trim().toLowerCase();
    let visible = 0;
    $$("li", list).forEach((item) => {
      const match = !query || item.textContent.toLowerCase().includes(query);
      item.hidden = !match;
      if (match) visible += 1;
    });
    $("[data-no-match]").hidden = visible > 0;
    const chosen = $$("input:checked", list).map((box) => box.value);
    $("[data-selected-count]").textContent = chosen.length ? `(${chosen.length} selected)` : "";
    const chips = $("[data-chips]");
    chips.replaceChildren(...chosen.map((name) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = name;
      chip.title = name;
      return chip;
    }));
  }
  if (search && list) {
    search.addEventListener("input", syncEvents);
    search.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });
    list.addEventListener("change", syncEvents);
    syncEvents();
  }

  // Confirm before stopping or removing.
  function bindConfirms(root) {
    $$("form[data-confirm]", root).forEach((form) => form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    }));
  }
  bindConfirms(document);

  // What to paste into AWS follows the bucket, prefix and KMS key as they are typed: the page asks the console
  // for it (control/roles.py writes it, so the policies are made in one place). Copy puts one on the clipboard.
  const setup = $("[data-role-setup]");
  const s3Fields = $("#s3-form");
  if (setup && s3Fields) {
    let timer = null;
    async function refreshSetup() {
      const params = new URLSearchParams();
      ["bucket", "prefix", "sse", "sse_kms_key_id"].forEach((name) => params.set(name, s3Fields.elements[name].value.trim()));
      const link = $("#cloudformation");
      if (link) link.href = `${setup.dataset.roleSetup}?download=1&${params}`;
      try {
        const response = await fetch(`${setup.dataset.roleSetup}?${params}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok || response.redirected) return;
        const texts = await response.json();
        $("#policy").textContent = texts.permission_policy;
        const trust = $("#trust-policy");
        if (trust) trust.textContent = texts.trust_policy;
      } catch (error) { /* the next keystroke asks again */ }
    }
    $$("[data-policy-input]", s3Fields).forEach((input) => {
      input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refreshSetup, 150); });
      input.addEventListener("change", refreshSetup);
    });
  }

  // A role or a key: show the chosen way's fields (and the trust policy only for a role).
  function syncAuth() {
    const auth = ($("input[name=auth]:checked") || {}).value;
    $$("[data-show-when-auth]").forEach((el) => { el.hidden = Boolean(auth) && el.dataset.showWhenAuth !== auth; });
  }
  $$("input[name=auth]").forEach((radio) => radio.addEventListener("change", syncAuth));
  syncAuth();
  $$("[data-copy]").forEach((button) => button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.copy));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  }));

  // A request ID's Copy button (in the log too, whose rows are redrawn: so one listener for the page).
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy-text]");
    if (!button) return;
    try { await navigator.clipboard.writeText(button.dataset.copyText); } catch (error) { return; }
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });

  // A page of a run still going (or queued) reloads itself until it has ended.
  const reload = $("[data-reload-seconds]");
  if (reload) setTimeout(() => { if (!document.querySelector("dialog[open]")) window.location.reload(); },
    Number(reload.dataset.reloadSeconds) * 1000);

  // The S3 form posts in the background, so the typed secret stays in its field between Test and Save.
  const s3Form = $("#s3-form");
  if (s3Form) {
    s3Form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.submitter;
      const body = new FormData(s3Form);
      if (button && button.name) body.set(button.name, button.value);
      $$("button", s3Form).forEach((b) => { b.disabled = true; });
      if (button) button.setAttribute("aria-busy", "true");
      const result = $("[data-form-result]", s3Form);
      try {
        const response = await fetch(s3Form.getAttribute("action"), { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
        const answer = await response.json();
        if (answer.redirect) { window.location.assign(answer.redirect); return; }
        $$("[data-error-for]", s3Form).forEach((el) => {
          const message = answer.errors[el.dataset.errorFor];
          el.textContent = message || "";
          el.hidden = !message;
          const input = s3Form.elements[el.dataset.errorFor];
          if (input && input.setAttribute) {
            if (message) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
          }
        });
        const formMessage = answer.message || answer.errors._form;
        result.hidden = !formMessage;
        result.textContent = formMessage || "";
        result.className = `alert ${answer.ok ? "alert-ok" : "alert-error"}`;
        result.setAttribute("role", answer.ok ? "status" : "alert");
        const firstBad = $("[aria-invalid=true]", s3Form);
        if (firstBad) {
          const details = firstBad.closest("details");
          if (details) details.open = true;
          firstBad.focus();
        }
      } catch (error) {
        result.hidden = false;
        result.className = "alert alert-error";
        result.textContent = "The console could not be reached; check your connection and try again.";
      } finally {
        $$("button", s3Form).forEach((b) => { b.disabled = false; });
        if (button) button.removeAttribute("aria-busy");
      }
    });
  }

  // The Activity Log refreshes itself while any run is Pending or Running.
  const log = $("#log");
  async function refreshLog() {
    const live = $(".log", log);
    if (!live || live.dataset.live !== "1") return;
    if (!log.contains(document.activeElement)) {
      try {
        const response = await fetch(log.dataset.refresh, { credentials: "same-origin" });
        if (response.ok && !response.redirected) {
          log.innerHTML = await response.text();
          bindConfirms(log);
        }
      } catch (error) { /* the next tick tries again */ }
    }
    setTimeout(refreshLog, REFRESH_MS);
  }
  if (log) setTimeout(refreshLog, REFRESH_MS);

  // Create Export: the estimate of what the dialog describes, asked again (debounced) when a setting changes.
  const estimate = $("[data-estimate]");
  if (estimate) {
    const form = estimate.closest("form");
    const count = (n) => Number(n).toLocaleString("en-US");
    const percent = (f) => `±${Math.round(f * 100)}%`;
    const size = (b) => {
      const units = ["B", "KB", "MB", "GB", "TB"];
      let i = 0;
      while (b >= 1000 && i < units.length - 1) { b /= 1000; i += 1; }
      return `${b >= 100 || i === 0 ? Math.round(b) : b.toFixed(1)} ${units[i]}`;
    };
    let timer = null;
    let asked = 0;
    async function refreshEstimate() {
      const mine = ++asked;
      const text = $("[data-estimate-text]", estimate);
      const warnings = $("[data-estimate-warnings]", estimate);
      const perEvent = $("[data-estimate-events]", estimate);
      estimate.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(estimate.dataset.url, { method: "POST", body: new FormData(form),
          headers: { Accept: "application/json" }, credentials: "same-origin" });
        const answer = await response.json();
        if (mine !== asked) return;
        if (!response.ok) {
          text.textContent = `No estimate yet: ${Object.values(answer.errors || {})[0] || "check the settings"}`;
          warnings.hidden = true;
          perEvent.hidden = true;
          return;
        }
        text.textContent = `About ${count(answer.rows)} rows (${percent(answer.rows_error)}), ${size(answer.bytes)} ` +
          `compressed (${percent(answer.bytes_error)}) in ${count(answer.objects)} objects` +
          (answer.per === "export" ? "." : ` ${answer.per.replace("run", "per run")}.`);
        warnings.replaceChildren(...answer.missing_events.map((name) => {
          const item = document.createElement("li");
          item.textContent = `The store has no “${name}” events in this window: this export would write none.`;
          return item;
        }));
        warnings.hidden = answer.missing_events.length === 0;
        $("tbody", perEvent).replaceChildren(...answer.events.map((e) => {
          const row = document.createElement("tr");
          [e.event_name, count(e.rows), size(e.bytes), count(e.objects)].forEach((value, i) => {
            const cell = document.createElement("td");
            cell.textContent = value;
            if (i) cell.className = "num";
            row.append(cell);
          });
          return row;
        }));
        perEvent.hidden = answer.events.length === 0;
      } catch (error) {
        if (mine === asked) text.textContent = "The estimate could not be fetched; it is not needed to create the export.";
      } finally {
        if (mine === asked) estimate.removeAttribute("aria-busy");
      }
    }
    const soon = () => { clearTimeout(timer); timer = setTimeout(refreshEstimate, 300); };
    form.addEventListener("change", soon);
    $$("[data-open-dialog=create-export]").forEach((button) => button.addEventListener("click", soon));
    if (form.closest("dialog[data-open-on-load]")) soon();
  }

  // Last, once the inputs the dialog shows are settled: a refused dialog opens again at its first refusal.
  $$("dialog[data-open-on-load]").forEach(openDialog);
})();
