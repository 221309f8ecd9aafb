// The dashboard's only script besides htmx. The Content Security Policy allows no inline script,
// so behaviour that used to sit in on* attributes is declared with data attributes and wired here.
// - <form data-confirm="question">: asks before submitting (a refusal cancels the submit).
// - <select data-autosubmit>: submits its form when the choice changes.
"use strict";

document.addEventListener(
  "submit",
  (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);

document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) {
    select.form.requestSubmit();
  }
});
