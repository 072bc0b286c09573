/* The reviewer's workspace: autosave bookkeeping around htmx, drafts kept in this browser until saved,
   retries with backoff when the connection drops, and restoring text after a reload or a new login. */
(function () {
  "use strict";

  // PRIVACY: a draft is medical text (PHI). It is written to this browser's localStorage only so that
  // nothing typed is lost to a dropped connection or an expired session, and only until the server
  // has it: every draft is removed as soon as its save succeeds, all drafts are removed on logout, and
  // any draft older than DRAFT_MAX_AGE is removed the next time a reviewer page loads. It never
  // leaves this machine except in the autosave request itself.
  const PREFIX = "imr-draft:";
  const DRAFT_MAX_AGE = 7 * 24 * 3600 * 1000;
  const RETRY_MAX_SECONDS = 60;

  function store() {
    try {
      return window.localStorage;
    } catch (e) {
      return null; // storage disabled: autosave still works, drafts just do not outlive the page
    }
  }

  function draftKeys(prefix) {
    const ls = store();
    const keys = [];
    if (!ls) return keys;
    for (let i = 0; i < ls.length; i++) {
      const key = ls.key(i);
      if (key && key.indexOf(prefix || PREFIX) === 0) keys.push(key);
    }
    return keys;
  }

  function readDraft(key) {
    const ls = store();
    try {
      return ls ? JSON.parse(ls.getItem(key)) : null;
    } catch (e) {
      return null;
    }
  }

  function removeKey(key) {
    const ls = store();
    if (ls) ls.removeItem(key);
  }

  // ---- Every page that loads this file: expire old drafts, and drop all drafts on logout. ----

  draftKeys().forEach(function (key) {
    const draft = readDraft(key);
    if (!draft || !draft.at || Date.now() - draft.at > DRAFT_MAX_AGE) removeKey(key);
  });

  document.addEventListener(
    "submit",
    function (evt) {
      const form = evt.target;
      if (!(form instanceof HTMLFormElement) || !/\/accounts\/logout\/$/.test(new URL(form.action).pathname)) return;
      const keys = draftKeys();
      if (keys.length && !window.confirm(
        "This browser holds text you have not saved yet (" + keys.length + " panel" + (keys.length > 1 ? "s" : "") +
        "). Logging out discards it. Log out anyway?"
      )) {
        evt.preventDefault();
        return;
      }
      keys.forEach(removeKey);
    },
    true
  );

  // ---- The workspace. ----

  const root = document.getElementById("workspace");
  if (!root || !window.htmx) return;
  const caseNumber = root.dataset.case;
  const loginUrl = root.dataset.loginUrl;
  const banner = document.getElementById("ws-connection");

  // A document opened from here is recorded by the server; mark it at once rather than on the next load.
  root.addEventListener("click", function (evt) {
    const link = evt.target.closest(".ws-document-link");
    if (!link) return;
    const mark = root.querySelector('[data-opened-mark="' + link.dataset.document + '"]');
    if (mark && !mark.dataset.opened) {
      mark.dataset.opened = "1";
      const badge = document.createElement("span");
      badge.className = "badge text-bg-success-subtle border border-success-subtle text-success-emphasis";
      badge.textContent = "Opened";
      mark.replaceChildren(badge);
      link.closest("tr").classList.remove("table-warning");
    }
  });

  if (root.dataset.editable !== "1") {
    // Submitted or final: nothing here can be saved any more, so nothing is kept.
    draftKeys(PREFIX + caseNumber + ":").forEach(removeKey);
    return;
  }

  const panels = Array.from(root.querySelectorAll("form.ws-panel"));
  const state = new Map();

  function versionOf(form) {
    const input = document.getElementById("version-" + form.dataset.panel); // updated by each save
    return input ? Number(input.value) : 0;
  }

  function pairsOf(form) {
    const pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "version") pairs.push([name, String(value)]);
    });
    return pairs;
  }

  function snapshot(form) {
    return JSON.stringify(pairsOf(form));
  }

  // The panel as the server rendered it (the fields' default values), in FormData's order: what is
  // saved, even if the browser put back text typed before a reload.
  function serverSnapshot(form) {
    const pairs = [];
    Array.from(form.elements).forEach(function (el) {
      if (!el.name || el.name === "version" || el.disabled) return;
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.defaultChecked) pairs.push([el.name, el.value]);
      } else if (el.tagName === "SELECT") {
        const options = Array.from(el.options);
        const chosen = options.find(function (o) { return o.defaultSelected; }) || options[0];
        pairs.push([el.name, chosen ? chosen.value : ""]);
      } else if (el.tagName === "TEXTAREA" || el.tagName === "INPUT") {
        if (el.type !== "button" && el.type !== "submit") pairs.push([el.name, el.defaultValue]);
      }
    });
    return JSON.stringify(pairs);
  }

  function keyOf(form, version) {
    return PREFIX + caseNumber + ":" + form.dataset.panel + ":" + version;
  }

  function storeDraft(form) {
    const ls = store();
    if (!ls) return;
    const st = state.get(form);
    const current = snapshot(form);
    const key = keyOf(form, versionOf(form));
    if (current === st.saved) {
      removeKey(key);
      return;
    }
    try {
      ls.setItem(key, JSON.stringify({ at: Date.now(), base: versionOf(form), fields: JSON.parse(current) }));
    } catch (e) {
      // Storage full or refused: the text stays in the field; the status line still says unsaved.
    }
  }

  function panelDrafts(form) {
    return draftKeys(PREFIX + caseNumber + ":" + form.dataset.panel + ":")
      .map(function (key) {
        return { key: key, draft: readDraft(key) };
      })
      .filter(function (d) {
        return d.draft && Array.isArray(d.draft.fields);
      });
  }

  function clearSavedDraft(form, version, saved) {
    // Every draft of this panel holding exactly the text now saved, also one stored under an older
    // version while the save was on its way; never another tab's different text.
    panelDrafts(form).forEach(function (d) {
      if (d.draft.base <= version && JSON.stringify(d.draft.fields) === saved) removeKey(d.key);
    });
  }

  const TONES = {
    saved: "text-success",
    warning: "text-warning-emphasis",
    dirty: "text-body-secondary",
    saving: "text-body-secondary",
    offline: "text-danger",
    conflict: "text-danger",
    expired: "text-danger",
    error: "text-danger",
  };

  function setStatus(form, name, text) {
    const el = document.getElementById("save-status-" + form.dataset.panel);
    form.dataset.state = name;
    if (!el) return;
    el.dataset.state = name;
    el.className = "ws-save-status small " + (TONES[name] || "text-body-secondary");
    el.textContent = text;
  }

  function showBanner() {
    if (!banner) return;
    const states = panels.map(function (form) {
      return form.dataset.state;
    });
    banner.replaceChildren();
    if (states.indexOf("expired") >= 0) {
      banner.append("Your session has expired: changes are not being saved. Your text is kept in this browser. ");
      const link = document.createElement("a");
      link.href = loginUrl;
      link.className = "alert-link";
      link.textContent = "Log in again";
      banner.append(link, " and you will come back here, where it is restored and saved.");
    } else if (states.indexOf("offline") >= 0) {
      banner.textContent =
        "Unsaved — the server cannot be reached; retrying. Your text is kept in this browser meanwhile.";
    }
    banner.classList.toggle("d-none", !banner.textContent);
  }

  function noticeOf(form) {
    return form.querySelector("[data-draft-notice]");
  }

  function hideNotice(form) {
    const notice = noticeOf(form);
    notice.replaceChildren();
    notice.classList.add("d-none");
  }

  function showNotice(form, text, actions, detail) {
    const notice = noticeOf(form);
    notice.replaceChildren(document.createTextNode(text));
    if (detail) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = "Show that text";
      const pre = document.createElement("pre");
      pre.textContent = detail;
      details.append(summary, pre);
      notice.append(details);
    }
    if (actions && actions.length) {
      const bar = document.createElement("div");
      bar.className = "d-flex gap-2 mt-1";
      actions.forEach(function (action) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "btn btn-sm " + (action.primary ? "btn-warning" : "btn-outline-secondary");
        button.textContent = action.label;
        button.addEventListener("click", action.run);
        bar.append(button);
      });
      notice.append(bar);
    }
    notice.classList.remove("d-none");
  }

  // ---- Citation rows: add, remove, and the claims administrator's "cited no evidence" switch. ----

  function addRow(form, role) {
    const template = document.getElementById("citation-row-" + role);
    const box = form.querySelector('[data-citations="' + role + '"]');
    if (!template || !box) return null;
    box.append(template.content.cloneNode(true));
    return box.lastElementChild;
  }

  // "Cited no medical evidence" hides that side's citation rows (kept on screen, not saved).
  function syncCitationRows(form) {
    form.querySelectorAll("[data-no-evidence]").forEach(function (none) {
      const rows = form.querySelector('[data-citation-block="' + none.dataset.noEvidence + '"]');
      if (rows) rows.classList.toggle("d-none", none.checked);
    });
  }

  function edited(form) {
    storeDraft(form);
    const st = state.get(form);
    if (st.blocked || st.timer) return;
    // Compared with what is saved, not with "was anything typed": a character typed and deleted
    // again (or leaving a saved field, which fires "change") leaves nothing unsaved, and the panel
    // says again what it said when its text was last saved (or loaded).
    if (!st.inFlight && snapshot(form) === st.saved) setStatus(form, st.savedMark.state, st.savedMark.text);
    else setStatus(form, "dirty", "Unsaved changes…");
  }

  // Put a stored draft's values back into the panel, adding or removing citation rows to fit.
  function applyFields(form, pairs) {
    const values = new Map();
    pairs.forEach(function (pair) {
      if (!values.has(pair[0])) values.set(pair[0], []);
      values.get(pair[0]).push(pair[1]);
    });
    ["ca", "review"].forEach(function (role) {
      const box = form.querySelector('[data-citations="' + role + '"]');
      if (!box) return;
      const wanted = Math.max(1, (values.get(role + "_guideline") || []).length);
      while (box.children.length < wanted) addRow(form, role);
      while (box.children.length > wanted) box.lastElementChild.remove();
    });
    const used = new Map();
    Array.from(form.elements).forEach(function (el) {
      if (!el.name || el.name === "version") return;
      const list = values.get(el.name) || [];
      if (el.type === "checkbox") {
        el.checked = list.indexOf(el.value) >= 0;
      } else if (el.type === "radio") {
        el.checked = list[0] === el.value;
      } else {
        const n = used.get(el.name) || 0;
        used.set(el.name, n + 1);
        el.value = n < list.length ? list[n] : "";
      }
    });
    syncCitationRows(form);
  }

  function readable(pairs) {
    const labels = {
      clinical_case_summary: "Summary",
      decision: "Decision",
      rationale: "Decision rationale",
      internal_note: "Note to quality review",
      ca_sections: "Claims administrator's citation, sections",
      ca_pages: "Claims administrator's citation, pages",
      review_sections: "Review's citation, sections",
      review_pages: "Review's citation, pages",
    };
    return pairs
      .filter(function (pair) {
        return labels[pair[0]] && pair[1].trim();
      })
      .map(function (pair) {
        return labels[pair[0]] + ":\n" + pair[1];
      })
      .join("\n\n");
  }

  function timeOf(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // After a reload or a new login: offer back whatever this browser holds that the server does not.
  function restore(form) {
    const st = state.get(form);
    const current = versionOf(form);
    const drafts = panelDrafts(form)
      .filter(function (d) {
        // Already on the server (or from a database that was reset since): nothing to offer.
        const stale = JSON.stringify(d.draft.fields) === st.saved || d.draft.base > current;
        if (stale) removeKey(d.key);
        return !stale;
      })
      .sort(function (a, b) {
        return b.draft.at - a.draft.at;
      });
    if (!drafts.length) return;
    // One draft per panel is offered: the newest written on the version on screen, else the newest.
    const chosen =
      drafts.find(function (d) {
        return d.draft.base === current;
      }) || drafts[0];
    drafts.forEach(function (d) {
      if (d !== chosen) removeKey(d.key);
    });
    if (chosen.draft.base === current) {
      applyFields(form, chosen.draft.fields);
      showNotice(form, "Restored text you had not saved (from " + timeOf(chosen.draft.at) + "); saving it now.");
      st.noticeUntilSaved = true;
      htmx.trigger(form, "imr-save");
      return;
    }
    // The panel changed on the server since the draft was started: never overwrite without asking.
    setStatus(form, "conflict", "Unsaved text from this browser is waiting: see above.");
    showNotice(
      form,
      "This browser holds text you had not saved (from " + timeOf(chosen.draft.at) + "), written before this " +
        "panel was changed elsewhere. Nothing was overwritten: the panel shows the latest saved version.",
      [
        {
          label: "Use my unsaved text instead",
          primary: true,
          run: function () {
            removeKey(chosen.key);
            applyFields(form, chosen.draft.fields);
            hideNotice(form);
            edited(form);
            htmx.trigger(form, "imr-save");
          },
        },
        {
          label: "Discard it",
          run: function () {
            removeKey(chosen.key);
            hideNotice(form);
            setStatus(form, "", "Saves as you type.");
          },
        },
      ],
      readable(chosen.draft.fields)
    );
  }

  function retry(form, why) {
    const st = state.get(form);
    st.retries += 1;
    const seconds = Math.min(RETRY_MAX_SECONDS, Math.pow(2, st.retries));
    storeDraft(form);
    setStatus(form, "offline", "Unsaved — " + why + "; retrying in " + seconds + " s.");
    clearTimeout(st.timer);
    st.timer = setTimeout(function () {
      st.timer = null;
      htmx.trigger(form, "imr-save");
    }, seconds * 1000);
    showBanner();
  }

  panels.forEach(function (form) {
    const mark = document.getElementById("save-status-" + form.dataset.panel);
    state.set(form, {
      saved: serverSnapshot(form),
      savedMark: { state: mark ? mark.dataset.state : "", text: mark ? mark.textContent : "" },
      sent: null,
      inFlight: false,
      retries: 0,
      timer: null,
      blocked: null,
    });

    form.addEventListener("input", function () {
      edited(form);
    });
    form.addEventListener("change", function (evt) {
      if (evt.target.dataset.noEvidence) syncCitationRows(form);
      edited(form);
    });
    form.addEventListener("click", function (evt) {
      const add = evt.target.closest(".ws-add-row");
      const remove = evt.target.closest(".ws-remove-row");
      if (add) {
        const row = addRow(form, add.dataset.role);
        if (row) row.querySelector("select").focus();
      } else if (remove) {
        const box = remove.closest("[data-citations]");
        remove.closest("[data-citation-row]").remove();
        if (!box.children.length) addRow(form, box.dataset.citations);
        edited(form);
        htmx.trigger(form, "imr-save");
      }
    });

    form.addEventListener("htmx:confirm", function (evt) {
      const st = state.get(form);
      // A refused (stale) panel sends nothing more until reloaded; an unchanged one has nothing to send.
      if (st.blocked === "conflict" || snapshot(form) === st.saved) evt.preventDefault();
    });
    form.addEventListener("htmx:beforeRequest", function () {
      const st = state.get(form);
      st.sent = { snapshot: snapshot(form), version: versionOf(form) };
      st.inFlight = true;
      if (!st.timer) setStatus(form, "saving", "Saving…");
    });
    form.addEventListener("htmx:beforeSwap", function (evt) {
      // The server explains its refusals (stale, invalid, session expired) in the panel's status line.
      const code = evt.detail.xhr.status;
      if (code === 400 || code === 401 || code === 409) evt.detail.shouldSwap = true;
    });
    form.addEventListener("htmx:afterRequest", function (evt) {
      const st = state.get(form);
      const code = evt.detail.xhr.status;
      st.inFlight = false;
      if (code === 0 || code >= 500) return; // htmx:sendError, htmx:timeout or htmx:responseError retry
      if (code === 200) {
        // The new version goes in before htmx issues a save queued meanwhile, which reads it.
        const version = evt.detail.xhr.getResponseHeader("X-IMR-Version");
        if (version !== null) document.getElementById("version-" + form.dataset.panel).value = version;
        st.saved = st.sent.snapshot;
        st.retries = 0;
        st.blocked = null;
        clearSavedDraft(form, st.sent.version, st.sent.snapshot);
        if (snapshot(form) !== st.saved) storeDraft(form); // typed while it was saving: keep that too
        if (st.noticeUntilSaved) {
          st.noticeUntilSaved = false;
          hideNotice(form);
        }
        const mark = document.getElementById("save-status-" + form.dataset.panel);
        form.dataset.state = mark.dataset.state;
        st.savedMark = { state: mark.dataset.state, text: mark.textContent };
      } else if (code === 409) {
        st.blocked = "conflict";
        storeDraft(form);
        form.dataset.state = "conflict";
        showNotice(form, "Your text is kept here and in this browser.", [
          {
            label: "Reload now",
            primary: true,
            run: function () {
              window.location.reload();
            },
          },
        ]);
      } else if (code === 401) {
        st.blocked = "expired";
        storeDraft(form);
        form.dataset.state = "expired";
      } else if (code === 400) {
        storeDraft(form);
        form.dataset.state = "error";
      } else if (code === 403) {
        st.blocked = "expired";
        storeDraft(form);
        setStatus(
          form,
          "expired",
          "Not saved: this page is out of date (you logged in again elsewhere). Reload it: your text is kept " +
            "in this browser and restored."
        );
      } else {
        st.blocked = "conflict";
        storeDraft(form);
        setStatus(form, "conflict", "Not saved: this case is no longer open to you here. Reload the page.");
      }
      showBanner();
    });
    form.addEventListener("htmx:sendError", function () {
      state.get(form).inFlight = false;
      retry(form, "connection lost");
    });
    form.addEventListener("htmx:timeout", function () {
      state.get(form).inFlight = false;
      retry(form, "the server did not answer");
    });
    form.addEventListener("htmx:responseError", function (evt) {
      if (evt.detail.xhr.status >= 500) retry(form, "the server failed");
    });

  });

  // Restoring may send a save at once, so it waits until htmx has wired the panels: htmx, deferred
  // like this file, does that on DOMContentLoaded.
  function afterHtmx(fn) {
    if (document.readyState === "complete") {
      setTimeout(fn, 0);
    } else {
      document.addEventListener("DOMContentLoaded", function () {
        setTimeout(fn, 0);
      });
    }
  }
  afterHtmx(function () {
    panels.forEach(function (form) {
      if (snapshot(form) !== state.get(form).saved) edited(form); // the browser put back unsaved text
      restore(form);
    });
  });

  window.addEventListener("online", function () {
    panels.forEach(function (form) {
      const st = state.get(form);
      if (st.timer) {
        clearTimeout(st.timer);
        st.timer = null;
        htmx.trigger(form, "imr-save");
      }
    });
  });

  // Submit only once every panel's latest text is on the server.
  const submitForm = document.getElementById("submit-form");
  if (submitForm) {
    submitForm.addEventListener("submit", function (evt) {
      const pending = panels.filter(function (form) {
        const st = state.get(form);
        return st.inFlight || snapshot(form) !== st.saved;
      });
      if (!pending.length) return;
      evt.preventDefault();
      const stuck = pending.filter(function (form) {
        return state.get(form).blocked;
      });
      if (stuck.length) {
        stuck[0].scrollIntoView({ behavior: "smooth", block: "start" });
        return; // its status line says what is wrong
      }
      const button = submitForm.querySelector("button[type=submit]");
      button.disabled = true;
      button.textContent = "Saving your last changes…";
      pending.forEach(function (form) {
        if (!state.get(form).inFlight) htmx.trigger(form, "imr-save");
      });
      const started = Date.now();
      const wait = setInterval(function () {
        const still = panels.filter(function (form) {
          const st = state.get(form);
          return st.inFlight || snapshot(form) !== st.saved;
        });
        if (!still.length) {
          clearInterval(wait);
          submitForm.submit();
        } else if (Date.now() - started > 20000 || still.some(function (f) { return state.get(f).blocked || state.get(f).timer; })) {
          clearInterval(wait);
          button.disabled = false;
          button.textContent = "Submit for quality review";
          still[0].scrollIntoView({ behavior: "smooth", block: "start" });
        }
      }, 250);
    });
  }
})();
