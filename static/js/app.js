/* pars-app behaviour. No framework, no inline scripts (CSP script-src 'self'):
 * every listener lives here and is hooked to data-* attributes in the templates.
 * Loaded with `defer` after htmx, so the DOM is parsed and window.htmx (if present) exists.
 * Also loaded on print pages without htmx, so everything htmx-specific is guarded. */
(function () {
  "use strict";

  var ERROR_TEXT = "Something went wrong \u2014 nothing was saved. Try again.";
  var OFFLINE_TEXT = "Cannot reach the server \u2014 nothing was saved. Check your connection and try again.";
  var STATUS_TEXT = { 403: "You are not allowed to do that.", 413: "That file is too large to upload.",
    429: "Too many attempts \u2014 wait a minute, then try again." };

  // Put a plain notice into the flash region (#flash is role=status, aria-live=polite).
  function flash(text, category) {
    var region = document.getElementById("flash");
    if (!region) { window.alert(text); return; }
    var old = region.querySelector("[data-client-notice]");
    if (old) old.remove();  // never stack the same kind of client-side error
    var note = document.createElement("div");
    note.className = "flash flash--" + (category || "error");
    note.setAttribute("data-client-notice", "");
    var msg = document.createElement("p");
    msg.className = "flash__text";
    msg.textContent = text;
    var close = document.createElement("button");
    close.type = "button"; close.className = "flash__close";
    close.setAttribute("data-dismiss", ""); close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    note.append(msg, close);
    region.append(note);
  }

  // Write into the visually hidden aria-live announcer; clear first so a repeat is re-read.
  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region || !text) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = String(text); }, 50);
  }

  // <time data-local datetime="ISO">Central text</time> -> the reader's own local time.
  // The server text (America/Chicago) stays as the title, and as the text if JS/Intl fails.
  var LOCAL_FORMAT = { year: "numeric", month: "short", day: "numeric", hour: "numeric",
    minute: "2-digit", timeZoneName: "short" };
  function localizeTimes(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("time[data-local][datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      if (!el.title) el.title = el.textContent.trim();
      try { el.textContent = when.toLocaleString(undefined, LOCAL_FORMAT); } catch (e) { /* keep */ }
    });
  }

  // --- htmx wiring (absent on print pages) ---------------------------------------------------
  if (window.htmx) {
    // 422 = validation errors, 409 = stale edit: both carry a fragment meant for the user, so
    // swap them and do not treat them as errors. Other 4xx/5xx swap nothing (the page stays as
    // it was) and fire htmx:responseError, which shows a message below. Regexes are unanchored
    // in htmx, hence ^...$.
    window.htmx.config.responseHandling = [
      { code: "^204$", swap: false },
      { code: "^[23]..$", swap: true },
      { code: "^(409|422)$", swap: true, error: false },
      { code: "^[45]..$", swap: false, error: true },
    ];
    // CSP (no inline style, no eval): indicator styles live in app.css, and hx-on / js: /
    // hx-trigger filters like keyup[...] are unavailable - write listeners here instead.
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
    // Back/forward re-fetch the page from the server (HX-History-Restore-Request) instead of
    // restoring a snapshot kept in sessionStorage: the server's render of a URL is always right
    // (a snapshot keeps the filter form as it was first rendered, not as the URL says), and
    // compliance records stay out of browser storage, as Cache-Control: no-store intends.
    window.htmx.config.historyCacheSize = 0;
  }

  // Every htmx request carries the CSRF token (Flask-WTF reads X-CSRFToken).
  document.addEventListener("htmx:configRequest", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) evt.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
    // <form data-omit-empty>: leave empty fields out of a GET, so the URL pushed into the
    // address bar reads ?q=cardio rather than ?q=cardio&year=&format=&status=...
    var form = evt.detail.elt && evt.detail.elt.closest && evt.detail.elt.closest("form[data-omit-empty]");
    var data = evt.detail.formData;
    if (form && data && evt.detail.verb === "get") {
      Array.from(new Set(data.keys())).forEach(function (name) {
        if (data.getAll(name).every(function (v) { return v === ""; })) data.delete(name);
      });
    }
  });
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    flash(STATUS_TEXT[status] || ERROR_TEXT, "error");
  });
  document.addEventListener("htmx:sendError", function () { flash(OFFLINE_TEXT, "error"); });
  document.addEventListener("htmx:timeout", function () { flash(OFFLINE_TEXT, "error"); });
  // Server sends `HX-Trigger: {"announce": "3 activities closed"}`; htmx fires it on the
  // requesting element and it bubbles to body with detail.value = the text.
  var lastServerAnnouncement = 0;
  document.body.addEventListener("announce", function (evt) {
    lastServerAnnouncement = Date.now();
    announce(evt.detail && evt.detail.value);
  });
  // After a swap, read out the new region's [data-announce] line (e.g. "1–50 of 140"), so a
  // screen reader hears what a search or filter found without the whole table being re-read.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!target) return;
    var root = (target.id && document.getElementById(target.id)) || target;  // outerHTML: new node
    var line = root.querySelector ? root.querySelector("[data-announce]") : null;
    // A region refreshing itself after a change ("Closed 12 activities") must not talk over
    // the server's own announcement of that change.
    if (Date.now() - lastServerAnnouncement < 3000) return;
    if (line) announce(line.textContent.replace(/\s+/g, " ").trim());
  });
  // Swapped-in content (and history restores) may contain <time data-local>.
  document.addEventListener("htmx:load", function (evt) { localizeTimes(evt.target); });

  // --- plain behaviours (work with or without htmx) -------------------------------------------
  function usesHtmx(el) {
    return ["hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"].some(function (a) {
      return el.hasAttribute(a);
    });
  }
  // data-confirm="Close 12 activities?" on a form, a submit button, a link or an hx-* button.
  // Capture phase, so a "Cancel" stops the event before htmx or the browser acts on it.
  document.addEventListener("click", function (evt) {
    var el = evt.target.closest("[data-confirm]");
    if (!el || el.tagName === "FORM") return;
    if (el.form && el.type === "submit" && !usesHtmx(el)) return;  // asked on submit below
    if (!window.confirm(el.getAttribute("data-confirm"))) {
      evt.preventDefault(); evt.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("submit", function (evt) {
    var by = evt.submitter;
    var text = (by && by.getAttribute("data-confirm")) || evt.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { evt.preventDefault(); evt.stopImmediatePropagation(); }
  }, true);

  // <select data-autosubmit> submits its form on change (year switcher). requestSubmit fires
  // the submit event, so htmx forms and plain GET forms both work.
  // Keyboard: Chromium fires `change` on every arrow key of a closed select, so a keyboard user
  // would be sent to a new page for each option they pass (WCAG 3.2.2). After arrow keys we
  // wait for Enter, or for the user to leave the field, before submitting.
  var BROWSE_KEYS = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End",
    "PageUp", "PageDown"];
  function autosubmit(el) {
    if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
  }
  function changedFromPage(el) {  // differs from what the server rendered
    return Array.prototype.some.call(el.options, function (o) {
      return o.selected !== o.defaultSelected;
    });
  }
  document.addEventListener("keydown", function (evt) {
    var el = evt.target;
    if (!el.matches || !el.matches("select[data-autosubmit]") || !el.form) return;
    if (evt.key === "Enter") {
      evt.preventDefault();
      if (changedFromPage(el)) autosubmit(el);
    } else if (BROWSE_KEYS.indexOf(evt.key) >= 0 && !evt.altKey) {
      el.setAttribute("data-browsing", "");
    }
  });
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (!el.matches("[data-autosubmit]") || !el.form) return;
    if (el.hasAttribute("data-browsing")) return;  // keyboard: wait for Enter or blur
    autosubmit(el);
  });
  document.addEventListener("focusout", function (evt) {
    var el = evt.target;
    if (!el.matches || !el.matches("select[data-autosubmit][data-browsing]")) return;
    el.removeAttribute("data-browsing");
    if (el.form && changedFromPage(el)) autosubmit(el);
  });

  document.addEventListener("click", function (evt) {
    if (evt.target.closest("[data-print]")) { evt.preventDefault(); window.print(); return; }
    var dismiss = evt.target.closest("[data-dismiss]");
    if (dismiss) {
      var box = dismiss.closest(".flash");
      if (box) box.remove();
      // The focused button is gone with its notice: carry on from the page content, not <body>.
      var main = document.getElementById("main");
      if (main && document.activeElement === document.body) main.focus();
    }
  });

  // --- Enduring counts rows (templates/enduring/_row.html: tr[data-inline-edit]) ------------
  // Esc in a row puts back what is stored: it follows the row's [data-cancel] link, which htmx
  // re-fetches (focus stays on the same field: htmx restores focus by id after the swap).
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || !evt.target.closest) return;
    var row = evt.target.closest("tr[data-inline-edit]");
    var cancel = row && row.querySelector("[data-cancel]");
    if (!cancel) return;
    evt.preventDefault();
    cancel.click();
  });
  // After Enter saved a row (it comes back with data-saved), move to the same field of the next
  // row, as a spreadsheet does. Only when focus is still in the row (the user did not move on).
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.target;
    var row = target && target.id && document.getElementById(target.id);
    if (!row || !row.matches("tr[data-saved]")) return;
    var field = document.activeElement;
    if (!field || !row.contains(field) || !field.name) return;
    var next = row.nextElementSibling;
    while (next && !next.matches("tr[data-inline-edit]")) next = next.nextElementSibling;
    var input = next && next.querySelector('input[name="' + field.name + '"]');
    if (input) { input.focus(); input.select(); }
  });

  // --- Inline learner counts (templates/activities/_counts_cell.html: [data-counts-cell]) ------
  // Clicking a count (or Enter on it) opens the inputs through htmx; Enter in an input submits
  // the cell's own form; Tab moves between the two inputs. Esc puts back what is stored by
  // following the cell's [data-cancel] link.
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || !evt.target.closest) return;
    var cell = evt.target.closest("[data-counts-cell][data-editing]");
    var cancel = cell && cell.querySelector("[data-cancel]");
    if (!cancel) return;
    evt.preventDefault();
    cancel.click();
  });
  // An editor opens on the count that was clicked ([data-autofocus]). Not the autofocus
  // attribute: the browser may honour that as soon as the cell is inserted, before htmx wires its
  // form (htmx:load), and an Enter typed then would post the whole page.
  document.addEventListener("htmx:load", function (evt) {
    var el = evt.target;
    if (!el || !el.querySelector) return;
    var editing = "[data-counts-cell][data-editing]";
    var input = el.matches(editing) ? el.querySelector("input[data-autofocus]")
      : el.querySelector(editing + " input[data-autofocus]");
    if (input) { input.focus(); input.select(); }
  });
  // Which count the user was on when a cell's request left (an input's name), so focus can
  // come back to the same count afterwards. Null when focus was elsewhere.
  var countsFocus = null;
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    var cell = elt && elt.closest && elt.closest("[data-counts-cell]");
    if (!cell) return;
    var active = document.activeElement;
    countsFocus = active && cell.contains(active)
      ? (active.name || active.getAttribute("data-field") || "physicians") : null;
  });
  // After a save (the cell comes back with data-saved), focus moves to the same count of the
  // next row that can be edited, as a spreadsheet does; after Esc/Cancel, or on the detail
  // page, back to the count itself. Only when the user has not moved on meanwhile.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.target;
    var cell = target && target.id && document.getElementById(target.id);
    if (!cell || !cell.matches("[data-counts-cell]") || cell.hasAttribute("data-editing")) return;
    var field = countsFocus;
    countsFocus = null;
    var active = document.activeElement;
    if (!field || (active && active !== document.body)) return;
    var selector = 'a.count-link[data-field="' + field + '"]';
    var row = cell.closest("tr");
    if (row && cell.hasAttribute("data-saved")) {
      for (var next = row.nextElementSibling; next; next = next.nextElementSibling) {
        var link = next.querySelector(selector);
        if (link) { link.focus(); return; }
      }
    }
    var own = cell.querySelector(selector);
    if (own) own.focus();
  });

  // --- Bulk selection on the activities list (templates/activities/_table.html) --------------
  // Row checkboxes belong to form#bulk. "Select this page" ticks every row; once the page is
  // ticked and the filter matches more rows, "Select all N matching" sets scope=matching, which
  // makes the server re-run the filter instead of reading the ticked ids.
  function bulkParts() {
    var bar = document.getElementById("bulk-bar");
    if (!bar) return null;
    var table = document.getElementById("activities-table");
    return {
      bar: bar,
      boxes: Array.from(table.querySelectorAll('input[name="ids"][form="bulk"]')),
      page: document.getElementById("select-page"),
      scope: document.getElementById("bulk-scope"),
      matching: document.getElementById("select-matching"),
      clear: document.getElementById("clear-selection"),
      status: document.getElementById("bulk-status"),
    };
  }
  function showBulkState(p) {
    var ticked = p.boxes.filter(function (b) { return b.checked; }).length;
    var all = p.boxes.length > 0 && ticked === p.boxes.length;
    var total = Number(p.bar.getAttribute("data-total")) || ticked;
    if (p.page) { p.page.checked = all; p.page.indeterminate = ticked > 0 && !all; }
    if (!all && p.scope.value) p.scope.value = "";  // unticking a row narrows "all matching"
    var everything = p.scope.value === "matching";
    if (p.matching) p.matching.hidden = !all || everything;
    p.clear.hidden = ticked === 0;
    var n = everything ? total : ticked;
    p.status.textContent = n === 0 ? "No activities selected."
      : everything ? "All " + n.toLocaleString("en-US") + " activities matching this filter are selected."
      : all ? "All " + n.toLocaleString("en-US") + " on this page are selected."
      : n.toLocaleString("en-US") + " selected.";
  }
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (!el.matches || !el.matches('#select-page, input[name="ids"][form="bulk"]')) return;
    var p = bulkParts();
    if (!p) return;
    if (el.id === "select-page") {
      p.boxes.forEach(function (b) { b.checked = el.checked; });
      if (!el.checked) p.scope.value = "";
    }
    showBulkState(p);
  });
  document.addEventListener("click", function (evt) {
    var el = evt.target.closest && evt.target.closest("#select-matching, #clear-selection");
    var p = el && bulkParts();
    if (!p) return;
    if (el.id === "select-matching") {
      p.scope.value = "matching";
      showBulkState(p);  // #bulk-status is role=status: the new count is read out
      var close = document.getElementById("close-selected");
      if (close) close.focus();  // the button that was clicked is now hidden
    } else {
      p.scope.value = "";
      p.boxes.forEach(function (b) { b.checked = false; });
      showBulkState(p);
      if (p.page) p.page.focus();
    }
  });
  // "All N matching": the request carries the filter, not the ticked ids of this page.
  document.addEventListener("htmx:configRequest", function (evt) {
    var data = evt.detail && evt.detail.formData;
    if (!evt.detail.elt || evt.detail.elt.id !== "bulk" || !data) return;
    if (data.get("scope") === "matching") data.delete("ids");
  });
  // The result of a bulk close (or its Undo) takes focus, so Tab reaches its links and Undo;
  // the table it came from is being re-fetched behind it.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!target || target.id !== "bulk-result") return;
    var result = document.getElementById("bulk-result");
    if (result) result.focus();
  });

  // --- Keyboard focus through swaps and full-page answers ------------------------------------
  // htmx puts focus back on an element with the same id in the new content. Anything else that
  // had focus inside the swapped region would leave it on <body>, so the next Tab starts again
  // at the top of the page. Keep it in the region: on the same kind of pagination link ("Next"
  // stays on Next, or Previous on the last page), else on the region itself.
  var focusBeforeSwap = null;
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail && evt.detail.target;
    var active = document.activeElement;
    focusBeforeSwap = target && target.id && active && active !== document.body &&
      target.contains(active) ? { region: target.id, rel: active.getAttribute("rel") } : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var was = focusBeforeSwap;
    focusBeforeSwap = null;
    var active = document.activeElement;
    if (!was || (active && active !== document.body)) return;  // htmx or a handler above placed it
    var region = document.getElementById(was.region);
    if (!region) return;
    var to = was.rel ? region.querySelector('a[rel="' + was.rel + '"]') || region.querySelector("a[rel]") : null;
    if (!to) {
      to = region;
      if (!region.hasAttribute("tabindex")) region.setAttribute("tabindex", "-1");
    }
    to.focus();
  });
  // A 422 or 409 answer swaps in its messages next to the fields; read out the ones that do not
  // announce themselves (role=alert does), so a keyboard user hears why nothing was saved.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var xhr = evt.detail && evt.detail.xhr;
    var target = evt.detail && evt.detail.target;
    if (!xhr || (xhr.status !== 409 && xhr.status !== 422) || !target) return;
    if (/"announce"/.test(xhr.getResponseHeader("HX-Trigger") || "")) return;  // server said it
    var root = (target.id && document.getElementById(target.id)) || target;
    if (!root.querySelectorAll) return;
    var texts = Array.from(root.querySelectorAll(".error")).filter(function (el) {
      return !el.closest('[role="alert"]');
    }).map(function (el) { return el.textContent.replace(/\s+/g, " ").trim(); });
    if (texts.length) announce("Not saved. " + texts.join(" "));
  });
  // A form page that comes back refused (422 errors, 409 conflict) opens on what says why
  // ([data-focus-on-load], the first one), not at the top of the page. The error summary's links
  // take focus to the field itself (a bare #fragment link would only scroll there).
  var why = document.querySelector("[data-focus-on-load]");
  if (why) why.focus();
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest('.error-summary a[href^="#"]');
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    evt.preventDefault();
    var label = field.id && document.querySelector('label[for="' + field.id + '"]');
    (label || field).scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  });

  localizeTimes(document);
})();
