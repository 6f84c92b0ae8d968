/*
 * Rows of a Django formset added and removed in the page, without a reload.
 *
 *   <fieldset data-formset="tags">            the formset's prefix
 *     {{ formset.management_form }}
 *     <p data-formset-empty>No rows yet.</p>  shown when there is no row
 *     <div data-formset-rows>                  the rows, each [data-formset-row]
 *     <template data-formset-template>         formset.empty_form as a row
 *     <button type="submit" name="add_tag" data-formset-add>
 *
 * In a row: [data-formset-delete] wraps the DELETE box (hidden here) and
 * [data-formset-remove] is the Remove button (shown here); [data-formset-number]
 * shows the row's number. Without JavaScript the add button posts the form and
 * the server adds a row; the DELETE boxes drop rows.
 *
 * The rows are never saved objects, so a removed row is taken out of the page
 * and the rows after it are renumbered (names, ids, labels); TOTAL_FORMS (and
 * INITIAL_FORMS, for a row that was one of the initial ones) follow. Each
 * change dispatches "formset-changed" (bubbling), which the form's live preview
 * listens for. A "formset-rows" event ({detail: {rows: n}}) sets the number of
 * rows at once, for a form filled in again with what was typed in it.
 */
(function () {
  "use strict";

  var ATTRIBUTES = ["id", "name", "for", "aria-describedby", "href"];

  function announce(text) {
    var region = document.getElementById("console-live");
    if (region) {
      region.textContent = text;
    }
  }

  function setUp(fieldset) {
    var prefix = fieldset.getAttribute("data-formset");
    var total = fieldset.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var initial = fieldset.querySelector('input[name="' + prefix + '-INITIAL_FORMS"]');
    var max = fieldset.querySelector('input[name="' + prefix + '-MAX_NUM_FORMS"]');
    var rows = fieldset.querySelector("[data-formset-rows]");
    var template = fieldset.querySelector("template[data-formset-template]");
    var addButton = fieldset.querySelector("[data-formset-add]");
    var empty = fieldset.querySelector("[data-formset-empty]");
    var indexPattern = new RegExp(prefix + "-(\\d+|__prefix__)-", "g");

    function allRows() {
      return Array.prototype.slice.call(rows.querySelectorAll("[data-formset-row]"));
    }

    /* Give a row index `index`: every name and id, and the number people see. */
    function number(row, index) {
      var elements = [row].concat(Array.prototype.slice.call(row.querySelectorAll("*")));
      elements.forEach(function (element) {
        ATTRIBUTES.forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) {
            element.setAttribute(attribute, value.replace(indexPattern, prefix + "-" + index + "-"));
          }
        });
      });
      row.querySelectorAll("[data-formset-number]").forEach(function (span) {
        span.textContent = String(index + 1);
      });
    }

    function enhance(row) {
      var remove = row.querySelector("[data-formset-remove]");
      var deleteBox = row.querySelector("[data-formset-delete]");
      var checkbox = deleteBox && deleteBox.querySelector('input[type="checkbox"]');
      if (remove) {
        remove.hidden = false;
      }
      /* A box ticked before JavaScript ran stays visible: the row is still to be dropped. */
      if (deleteBox && !(checkbox && checkbox.checked)) {
        deleteBox.hidden = true;
      }
    }

    function update() {
      var count = allRows().length;
      total.value = String(count);
      if (empty) {
        empty.hidden = count > 0;
      }
      if (addButton && max) {
        addButton.disabled = count >= Number(max.value);
      }
      fieldset.dispatchEvent(new CustomEvent("formset-changed", { bubbles: true }));
    }

    function appendRow() {
      var row = template.content.querySelector("[data-formset-row]").cloneNode(true);
      number(row, allRows().length);
      enhance(row);
      rows.appendChild(row);
      return row;
    }

    function addRow() {
      var row = appendRow();
      update();
      row.querySelector("input, select, textarea").focus();
      announce("Tag " + allRows().length + " added.");
    }

    function removeRow(row) {
      var all = allRows();
      var position = all.indexOf(row);
      row.remove();
      /* Rows filled in from elsewhere (a clone) count as initial; none is saved. */
      if (initial && position < Number(initial.value)) {
        initial.value = String(Number(initial.value) - 1);
      }
      var rest = allRows();
      rest.forEach(number);
      update();
      /* Keep the keyboard where the row was: the next row, else the previous, else Add. */
      var neighbour = rest[position] || rest[position - 1];
      var target = neighbour ? neighbour.querySelector("input, select, textarea") : addButton;
      if (target) {
        target.focus();
      }
      announce("Tag " + (position + 1) + " removed.");
    }

    allRows().forEach(enhance);

    /* A form filled in again (console.js) first asks for as many rows as it had. */
    fieldset.addEventListener("formset-rows", function (event) {
      var wanted = event.detail.rows;
      while (allRows().length < wanted) {
        appendRow();
      }
      allRows().slice(wanted).forEach(function (row) {
        row.remove();
      });
      update();
    });

    fieldset.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-formset-remove]");
      if (remove && fieldset.contains(remove)) {
        event.preventDefault();
        removeRow(remove.closest("[data-formset-row]"));
        return;
      }
      if (addButton && event.target.closest("[data-formset-add]") === addButton) {
        event.preventDefault();
        addRow();
      }
    });

    /*
     * Enter in a text field submits the form through its first submit button,
     * which is the add button here: send the form with its main button instead.
     */
    var form = fieldset.form || fieldset.closest("form");
    if (form && addButton) {
      form.addEventListener(
        "click",
        function (event) {
          if (event.target !== addButton || event.detail !== 0 || document.activeElement === addButton) {
            return;
          }
          event.preventDefault();
          event.stopImmediatePropagation();
          var main = form.querySelector('button[type="submit"]:not([data-formset-add])');
          if (main) {
            form.requestSubmit(main);
          }
        },
        true
      );
    }
  }

  document.querySelectorAll("fieldset[data-formset]").forEach(setUp);
})();
