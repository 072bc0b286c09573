/* Case intake page: party autocomplete, "add another" rows for the formsets, subcategories by category. */
(function () {
  "use strict";

  // ---- Parties: a <datalist> filled from the search endpoint, and a hint saying on file or new. ----

  function setUpAutocomplete(input) {
    const list = document.createElement("datalist");
    list.id = input.id + "-options";
    input.setAttribute("list", list.id);
    input.after(list);
    const hint = document.createElement("div");
    hint.className = "form-text intake-hint";
    hint.setAttribute("aria-live", "polite");
    (input.closest("[id^='div_']") || input.parentElement).append(hint);
    const npiInput = input.dataset.npiInput ? document.getElementById(input.dataset.npiInput) : null;
    let timer = null;
    let controller = null;

    function showHint(exact, q) {
      hint.classList.remove("text-success");
      if (!q) {
        hint.textContent = "";
      } else if (exact) {
        hint.textContent = "On file: " + exact.name + (exact.npi ? " (NPI " + exact.npi + ")" : "");
        hint.classList.add("text-success");
      } else {
        hint.textContent = "Not on file: a new " + input.dataset.partyLabel + " will be added when you save.";
      }
    }

    function fillNpi(exact) {
      // A provider picked from the list brings its NPI, unless the coordinator typed one; an NPI
      // brought that way leaves again with its provider.
      const filled = npiInput.dataset.filledFor;
      if (filled && npiInput.value === filled && (!exact || exact.npi !== filled)) npiInput.value = "";
      if (filled && npiInput.value !== filled) delete npiInput.dataset.filledFor;
      if (exact && exact.npi && !npiInput.value.trim()) {
        npiInput.value = exact.npi;
        npiInput.dataset.filledFor = exact.npi;
      }
    }

    async function lookUp() {
      const q = input.value.trim();
      if (controller) controller.abort();
      if (!q) {
        list.replaceChildren();
        showHint(null, "");
        if (npiInput) fillNpi(null);
        return;
      }
      controller = new AbortController();
      const url = new URL(input.dataset.autocompleteUrl, window.location.origin);
      url.searchParams.set("q", q);
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, signal: controller.signal });
        if (!response.ok) return;
        const data = await response.json();
        list.replaceChildren(
          ...data.results.map(function (result) {
            const option = document.createElement("option");
            option.value = result.name;
            if (result.detail) option.label = result.detail;
            return option;
          })
        );
        showHint(data.exact, q);
        if (npiInput) fillNpi(data.exact);
      } catch (error) {
        if (error.name !== "AbortError") hint.textContent = "";
      }
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookUp, 200);
    });
    if (input.value.trim()) lookUp(); // after a refused save, say again which names are on file
  }

  // ---- Formsets: clone the empty form, remove a row, keep the indices 0..n-1 in order. ----

  const INDEXED_ATTRIBUTES = ["id", "name", "for", "aria-describedby", "list", "data-npi-input"];

  function renumber(formset) {
    const prefix = formset.dataset.formset;
    const pattern = new RegExp(prefix + "-(\\d+|__prefix__)-", "g");
    const rows = formset.querySelectorAll("[data-formset-rows] > [data-formset-row]");
    rows.forEach(function (row, index) {
      row.querySelectorAll("*").forEach(function (element) {
        INDEXED_ATTRIBUTES.forEach(function (attribute) {
          const value = element.getAttribute(attribute);
          if (value && value.includes(prefix + "-")) {
            element.setAttribute(attribute, value.replace(pattern, prefix + "-" + index + "-"));
          }
        });
      });
      const number = row.querySelector("[data-formset-number]");
      if (number) number.textContent = String(index + 1);
    });
    formset.querySelector("input[name='" + prefix + "-TOTAL_FORMS']").value = String(rows.length);
  }

  function addRow(formset) {
    const template = formset.querySelector("template[data-formset-empty]");
    const rows = formset.querySelector("[data-formset-rows]");
    rows.append(template.content.cloneNode(true));
    renumber(formset);
    const row = rows.lastElementChild;
    filterSubcategories(row);
    const first = row.querySelector("input:not([type=hidden]), textarea, select");
    if (first) first.focus();
  }

  // ---- Disputed items: only the chosen category's subcategories can be picked. ----

  function filterSubcategories(row) {
    const category = row.querySelector("select[name$='-category']");
    const subcategory = row.querySelector("select[name$='-subcategory']");
    if (!category || !subcategory) return;
    const chosen = category.value ? category.options[category.selectedIndex].text : "";
    subcategory.querySelectorAll("optgroup").forEach(function (group) {
      const other = chosen !== "" && group.label !== chosen;
      group.hidden = other;
      group.disabled = other;
    });
    const selected = subcategory.options[subcategory.selectedIndex];
    if (selected && selected.parentElement.disabled) subcategory.value = "";
  }

  function pickCategoryOf(row) {
    // Choosing a subcategory first fills in its category.
    const category = row.querySelector("select[name$='-category']");
    const subcategory = row.querySelector("select[name$='-subcategory']");
    const selected = subcategory.options[subcategory.selectedIndex];
    if (category.value || !selected || selected.parentElement.tagName !== "OPTGROUP") return;
    const match = Array.from(category.options).find(function (option) {
      return option.text === selected.parentElement.label;
    });
    if (match) category.value = match.value;
    filterSubcategories(row);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("case-intake");
    if (!form) return;
    form.querySelectorAll("input[data-autocomplete-url]").forEach(setUpAutocomplete);
    form.querySelectorAll("[data-formset-row]").forEach(filterSubcategories);

    form.addEventListener("click", function (event) {
      const add = event.target.closest("[data-formset-add]");
      const remove = event.target.closest("[data-formset-remove]");
      if (add) {
        addRow(add.closest("[data-formset]"));
      } else if (remove) {
        const formset = remove.closest("[data-formset]");
        remove.closest("[data-formset-row]").remove();
        renumber(formset);
      }
    });

    form.addEventListener("change", function (event) {
      const row = event.target.closest("[data-formset-row]");
      if (!row) return;
      if (event.target.matches("select[name$='-category']")) filterSubcategories(row);
      if (event.target.matches("select[name$='-subcategory']")) pickCategoryOf(row);
    });
  });
})();
