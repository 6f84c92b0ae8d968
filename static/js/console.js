/*
 * Lookout Scheduler Console: the little behaviour the pages need.
 * No framework and no inline scripts (a strict CSP is expected). Loaded at the
 * end of <body> after htmx; every handler is delegated from `document`, so
 * content swapped in by htmx works without re-binding.
 *
 *  1. CSRF token on htmx requests    <meta name="csrf-token" content="...">
 *  2. Copy to clipboard               <button type="button" data-copy-target="#id">
 *  3. Double-submit prevention        <form method="post" data-once>
 *  4. Announce live changes           <div id="..." data-announce="State: RUNNING.">
 *  5. Selecting rows                  <input type="checkbox" data-select-all="form-id" hidden>
 *  6. A page that cannot update itself <div id="page-notice">
 *  7. What was typed, kept            <form method="post" data-keep-draft="fresh">
 *
 * htmx's own configuration (includeIndicatorStyles: false) is set by the
 * <meta name="htmx-config"> tag in templates/base.html, not here.
 */
(function () {
  "use strict";

  var SAFE_METHODS = ["get", "head", "options", "trace"];

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* Announce a short message to screen readers (the live region is in base.html). */
  function announce(text) {
    var region = document.getElementById("console-live");
    if (!region) {
      return;
    }
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  /* ---- 1. CSRF token on every unsafe htmx request ----------------------- */
  document.addEventListener("htmx:configRequest", function (event) {
    var verb = String(event.detail.verb || "get").toLowerCase();
    if (SAFE_METHODS.indexOf(verb) !== -1) {
      return;
    }
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRFToken"] = token;
    }
  });

  /* ---- 2. Copy to clipboard -------------------------------------------- */
  /*
   * <button type="button" class="btn btn-sm btn-outline-secondary"
   *         data-copy-target="#request-json">Copy</button>
   * Copies the target's value (input, textarea) or its text. The button's text
   * (or that of a child marked data-copy-label) turns into "Copied" for two
   * seconds; data-copied-text="..." overrides the feedback text.
   */
  function textOf(target) {
    if (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT") {
      return target.value;
    }
    return target.textContent;
  }

  function fallbackCopy(text) {
    var buffer = document.createElement("textarea");
    buffer.className = "copy-buffer";
    buffer.setAttribute("readonly", "");
    buffer.setAttribute("aria-hidden", "true");
    buffer.setAttribute("tabindex", "-1");
    buffer.value = text;
    document.body.appendChild(buffer);
    var active = document.activeElement;
    buffer.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (err) {
      ok = false;
    }
    document.body.removeChild(buffer);
    if (active && typeof active.focus === "function") {
      active.focus();
    }
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  function showFeedback(button, text, ok) {
    var label = button.querySelector("[data-copy-label]") || button;
    if (!button.hasAttribute("data-copy-original")) {
      button.setAttribute("data-copy-original", label.textContent);
    }
    window.clearTimeout(button._consoleCopyTimer);
    label.textContent = text;
    button.classList.toggle("is-copied", ok);
    announce(text);
    button._consoleCopyTimer = window.setTimeout(function () {
      label.textContent = button.getAttribute("data-copy-original");
      button.removeAttribute("data-copy-original");
      button.classList.remove("is-copied");
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    event.preventDefault();
    var target = null;
    try {
      target = document.querySelector(button.getAttribute("data-copy-target"));
    } catch (err) {
      target = null;
    }
    if (!target) {
      showFeedback(button, "Nothing to copy", false);
      return;
    }
    copyText(textOf(target)).then(
      function () {
        showFeedback(button, button.getAttribute("data-copied-text") || "Copied", true);
      },
      function () {
        showFeedback(button, "Copy failed", false);
      }
    );
  });

  /* ---- 3. Double-submit prevention ------------------------------------- */
  /*
   * <form method="post" data-once> ... <button type="submit">Create</button>
   * After the first submit, further submits are ignored and the submit buttons
   * are disabled (a button's data-once-text="Creating…" replaces its label).
   * Buttons are disabled on the next tick so the clicked button's own
   * name/value still goes with the request. Forms are re-enabled when the page
   * comes back from the back/forward cache, and after an htmx request ends.
   */
  function submitButtons(form) {
    var inside = Array.prototype.slice.call(
      form.querySelectorAll('button:not([type]), button[type="submit"], input[type="submit"], input[type="image"]')
    );
    var outside = form.id
      ? Array.prototype.slice.call(
          document.querySelectorAll('button[form="' + form.id + '"], input[type="submit"][form="' + form.id + '"]')
        )
      : [];
    return inside.concat(outside);
  }

  /* htmx cancels the native submit of the forms it sends itself. */
  function isHtmxForm(form) {
    return form.matches(
      "[hx-post], [hx-put], [hx-patch], [hx-delete], [hx-get], " +
      "[data-hx-post], [data-hx-put], [data-hx-patch], [data-hx-delete], [data-hx-get]"
    ) || Boolean(form.closest('[hx-boost="true"], [data-hx-boost="true"]'));
  }

  function lockForm(form) {
    form.setAttribute("data-once-submitted", "");
    form.setAttribute("aria-busy", "true");
    window.setTimeout(function () {
      submitButtons(form).forEach(function (button) {
        if (button.disabled) {
          return;
        }
        button.disabled = true;
        button.setAttribute("data-once-locked", "");
        var busyText = button.getAttribute("data-once-text");
        if (busyText && button.tagName === "BUTTON") {
          button.setAttribute("data-once-original", button.innerHTML);
          button.textContent = busyText;
        }
      });
    }, 0);
  }

  function unlockForm(form) {
    form.removeAttribute("data-once-submitted");
    form.removeAttribute("aria-busy");
    submitButtons(form).forEach(function (button) {
      if (!button.hasAttribute("data-once-locked")) {
        return;
      }
      button.disabled = false;
      button.removeAttribute("data-once-locked");
      if (button.hasAttribute("data-once-original")) {
        button.innerHTML = button.getAttribute("data-once-original");
        button.removeAttribute("data-once-original");
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) {
      return;
    }
    if (form.hasAttribute("data-once-submitted")) {
      event.preventDefault();
      return;
    }
    if (event.defaultPrevented && !isHtmxForm(form)) {
      return; /* someone else cancelled this submit */
    }
    lockForm(form);
  });

  /* Only the form's own htmx request unlocks it: a request made by something
     inside it (a live preview) says nothing about the form's submission. */
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (form && form.tagName === "FORM" && form.hasAttribute("data-once")) {
      unlockForm(form);
    }
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-once-submitted]").forEach(unlockForm);
    }
  });

  /* ---- 4. Announce live changes ----------------------------------------- */
  /*
   * A part of the page that htmx replaces while work is in flight carries an id
   * and data-announce="..."; when the text differs from what the element said
   * before the swap, it is read out through the live region. A region replaced
   * wholesale (hx-swap="outerHTML") is not announced by screen readers itself.
   */
  var announced = {};

  function rememberAnnouncements() {
    document.querySelectorAll("[data-announce][id]").forEach(function (element) {
      announced[element.id] = element.getAttribute("data-announce");
    });
  }

  document.addEventListener("htmx:afterSettle", function () {
    var changes = [];
    document.querySelectorAll("[data-announce][id]").forEach(function (element) {
      var text = element.getAttribute("data-announce");
      if (announced[element.id] !== undefined && announced[element.id] !== text) {
        changes.push(text);
      }
      announced[element.id] = text;
    });
    if (changes.length) {
      announce(changes.join(" "));  /* the region says one thing at a time */
    }
  });

  rememberAnnouncements();

  /* ---- 5. Selecting rows ----------------------------------------------- */
  /*
   * As in the Django admin's lists. The rows' checkboxes belong to a form by
   * form="selected-schedulers";
   *   <input type="checkbox" data-select-all="selected-schedulers" hidden>
   * ticks or clears them all and shows whether all, some or none are ticked;
   *   <span data-selected-count="selected-schedulers" hidden></span>
   * says "2 of 50 selected"; a shift-click ticks or clears every row from the
   * one clicked before. Both are hidden until this script runs: without it,
   * the rows are ticked one by one.
   */
  var lastClicked = {};

  function rowBoxes(formId) {
    return Array.prototype.slice.call(
      document.querySelectorAll('input[type="checkbox"][form="' + formId + '"]')
    );
  }

  function showSelection(formId) {
    var rows = rowBoxes(formId);
    var ticked = rows.filter(function (row) { return row.checked; }).length;
    var all = document.querySelector('[data-select-all="' + formId + '"]');
    if (all) {
      all.checked = rows.length > 0 && ticked === rows.length;
      all.indeterminate = ticked > 0 && ticked < rows.length;
    }
    var count = document.querySelector('[data-selected-count="' + formId + '"]');
    if (count) {
      count.textContent = ticked + " of " + rows.length + " selected";
    }
  }

  function showSelections() {
    document.querySelectorAll("[data-select-all], [data-selected-count]").forEach(function (element) {
      element.hidden = false;
      showSelection(element.getAttribute("data-select-all") || element.getAttribute("data-selected-count"));
    });
  }

  showSelections();
  /* Rows that follow themselves (htmx) keep their ticks; a row may come or go. */
  document.addEventListener("htmx:afterSettle", showSelections);

  /* A checkbox is already ticked or cleared when its click is dispatched. */
  document.addEventListener("click", function (event) {
    var box = event.target;
    var formId = box instanceof HTMLInputElement && box.type === "checkbox" && box.getAttribute("form");
    if (!formId) {
      return;
    }
    var rows = rowBoxes(formId);
    var before = rows.indexOf(lastClicked[formId]);
    if (event.shiftKey && before !== -1) {
      var here = rows.indexOf(box);
      rows.slice(Math.min(before, here), Math.max(before, here) + 1).forEach(function (row) {
        row.checked = box.checked;
      });
    }
    lastClicked[formId] = box;
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") {
      return;
    }
    var formId = box.getAttribute("data-select-all");
    if (formId) {
      rowBoxes(formId).forEach(function (row) {
        row.checked = box.checked;
      });
    }
    formId = formId || box.getAttribute("form");
    if (formId) {
      showSelection(formId);
    }
  });

  /* ---- 6. A page that cannot update itself ---------------------------- */
  /*
   * A background request refused (the session ended: 401; the role taken away
   * or the page expired: 403) or one that Lookout for Equipment did not answer
   * (503) is answered with a notice (templates/notices/). htmx swaps nothing in
   * for it, so the page stays as it was, what was typed included, and the
   * notice goes at the top. After a refusal the page stops asking, since every
   * later request would be refused the same way, and what says that it updates
   * itself (data-live-indicator) goes; after a 503 it goes on, and
   * the notice goes once a request succeeds (it is put in once, not at every
   * turn, so that a screen reader says it once).
   */
  var REFUSED = [401, 403];
  var refused = false;
  var unanswered = false;

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var notice = document.getElementById("page-notice");
    if (!notice || refused) {
      return;
    }
    if (REFUSED.indexOf(status) !== -1) {
      refused = true;
      document.querySelectorAll("[data-live-indicator]").forEach(function (indicator) {
        indicator.remove();
      });
    } else if (status === 503 && !unanswered) {
      unanswered = true;
    } else {
      return;
    }
    notice.innerHTML = event.detail.xhr.responseText;
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var notice = document.getElementById("page-notice");
    if (event.detail.successful && unanswered && notice) {
      notice.innerHTML = "";
      unanswered = false;
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (refused) {
      event.preventDefault();
    }
  });

  /* ---- 7. What was typed, kept ------------------------------------------ */
  /*
   * <form method="post" data-keep-draft="fresh|sent">
   * A form sent after the session ended leads to the login page, and one sent
   * from a page opened before its user last signed in leads to the expired
   * page: either way the server cannot take what was typed. So a form's fields
   * (not its CSRF token; no form with a password is marked) are kept in the
   * tab (sessionStorage) when it is sent, or left changed, and put back the
   * next time the same form is drawn "fresh" (not with values the server was
   * sent) for the same user.
   * Pages on the way back (<body data-keeps-drafts>: the login, locked-out and
   * error pages) keep the draft; any other page drops it, so a form that was
   * sent, or left for another page, starts as the server draws it.
   */
  var DRAFT = "console-draft";

  function fieldsOf(form) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string" && name !== "csrfmiddlewaretoken") {
        fields.push([name, value]);
      }
    });
    return fields;
  }

  function keepDraft(form) {
    var draft = { action: form.action, user: document.body.dataset.user, fields: fieldsOf(form) };
    try {
      sessionStorage.setItem(DRAFT, JSON.stringify(draft));
    } catch (error) {
      /* Storage refused or full: the form goes as it would without a draft. */
    }
  }

  function keptDraft() {
    try {
      return JSON.parse(sessionStorage.getItem(DRAFT) || "null");
    } catch (error) {
      return null;
    }
  }

  function dropDraft() {
    try {
      sessionStorage.removeItem(DRAFT);
    } catch (error) {
      /* Nothing was kept. */
    }
  }

  function fillIn(form, fields) {
    var given = {};
    fields.forEach(function (field) {
      (given[field[0]] = given[field[0]] || []).push(field[1]);
    });
    /* Tag rows first, as many as the draft had, so that their fields exist. */
    form.querySelectorAll("fieldset[data-formset]").forEach(function (fieldset) {
      var total = given[fieldset.getAttribute("data-formset") + "-TOTAL_FORMS"];
      if (total) {
        fieldset.dispatchEvent(new CustomEvent("formset-rows", { detail: { rows: Number(total[0]) } }));
      }
    });
    var taken = {};
    Array.prototype.forEach.call(form.elements, function (element) {
      var name = element.name;
      if (!name || name === "csrfmiddlewaretoken" || /^(submit|button|file)$/.test(element.type)) {
        return;
      }
      var values = given[name] || [];
      if (element.type === "checkbox" || element.type === "radio") {
        element.checked = values.indexOf(element.value) !== -1;
      } else if (element.multiple) {
        Array.prototype.forEach.call(element.options, function (option) {
          option.selected = values.indexOf(option.value) !== -1;
        });
      } else {
        taken[name] = taken[name] || 0;
        element.value = values[taken[name]++] || "";
      }
    });
  }

  var draftForm = document.querySelector("form[data-keep-draft]");
  /* As the server drew it: a form filled in again and reloaded is kept again. */
  var drawn = draftForm ? JSON.stringify(fieldsOf(draftForm)) : "";
  var draft = keptDraft();
  if (draft && draftForm && draftForm.getAttribute("data-keep-draft") === "fresh" &&
      draft.action === draftForm.action && draft.user === document.body.dataset.user) {
    fillIn(draftForm, draft.fields);
    dropDraft();
    var notice = document.getElementById("page-notice");
    var restored = document.getElementById("draft-restored-notice");
    if (notice && restored) {
      notice.appendChild(restored.content.cloneNode(true));
    }
  } else if (draft && !document.body.hasAttribute("data-keeps-drafts")) {
    dropDraft();
  }

  if (draftForm) {
    draftForm.addEventListener("submit", function () {
      keepDraft(draftForm);
    });
    /* Left changed, say by the notice's "Sign in again": kept for the way back. */
    window.addEventListener("pagehide", function () {
      if (JSON.stringify(fieldsOf(draftForm)) !== drawn) {
        keepDraft(draftForm);
      }
    });
  }
})();
