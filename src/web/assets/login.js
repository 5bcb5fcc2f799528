// The login page: the credentials go as JSON (a cross-site form cannot send that).
"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = document.getElementById("error");
  error.textContent = "Checking…";
  const body = JSON.stringify({
    user: document.getElementById("user").value,
    password: document.getElementById("password").value,
  });
  try {
    const r = await fetch("/api/v1/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
      credentials: "same-origin",
    });
    if (r.ok) {
      location.href = "/";
      return;
    }
    const data = await r.json().catch(() => ({}));
    error.textContent = data.error || "Login failed";
  } catch (e) {
    error.textContent = "The server cannot be reached";
  }
});
