// Every page: behaviour that used to sit in inline handlers, which the Content-Security-Policy
// forbids. A form with data-confirm asks first; a select with data-autosubmit posts its form.
(function () {
  "use strict";
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  document.addEventListener("change", (event) => {
    const field = event.target;
    if (field instanceof HTMLSelectElement && "autosubmit" in field.dataset && field.form) field.form.requestSubmit();
  });
})();
