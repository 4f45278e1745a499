// Disable a form's submit button once it is sent, so a double click cannot post twice
// (a second "claim" would only earn a 409 message).
document.addEventListener("submit", (event) => {
  const button = event.target.querySelector("button[type=submit]");
  if (button) {
    setTimeout(() => { button.disabled = true; }, 0);
  }
});
