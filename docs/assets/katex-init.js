// Typeset the maths that pymdownx.arithmatex marks (class "arithmatex") with the vendored KaTeX, on every page
// load, including Material's instant navigation.
function renderMaths() {
  for (const element of document.querySelectorAll(".arithmatex")) {
    const text = element.textContent.trim();
    const display = text.startsWith("\\[");
    const tex = text.replace(/^\\[\[(]/, "").replace(/\\[\])]$/, "");
    katex.render(tex, element, { displayMode: display, throwOnError: false });
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderMaths);
} else {
  document.addEventListener("DOMContentLoaded", renderMaths);
}
