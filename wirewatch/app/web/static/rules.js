// The rule editor's live preview: after each pause in typing, the text goes to the server, which
// answers with the errors (line:column) and what the rule would fire on; no library, no build step.
(function () {
  const form = document.getElementById("rule-form");
  if (!form) return;
  const text = document.getElementById("rule-text");
  const out = document.getElementById("preview");
  const problems = document.getElementById("rule-problems");
  let timer = null, sent = 0;
  async function preview() {
    const mine = ++sent;
    const body = new URLSearchParams({csrf: form.elements.csrf.value, text: text.value});
    const response = await fetch(form.dataset.preview, {method: "POST", body: body, credentials: "same-origin"});
    if (mine !== sent) return; // a newer preview is on its way
    out.innerHTML = await response.text();
    const found = out.querySelector("#preview-problems");
    problems.innerHTML = found ? found.outerHTML : "";
  }
  text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(preview, 350); });
  document.getElementById("preview-now").addEventListener("click", preview);
  problems.addEventListener("click", function (event) {
    const line = Number(event.target.dataset.line || 0), col = Number(event.target.dataset.col || 1);
    if (!line) return;
    const lines = text.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    text.focus();
    text.setSelectionRange(pos + col - 1, pos + col - 1);
    event.preventDefault();
  });
  preview();
})();
