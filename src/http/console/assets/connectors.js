// roster admin console, Connectors page: copy buttons, creating, rotating and revoking tokens,
// and the rate limit form. A plain ES module served from /admin/assets/ (no inline script).
// A new token is only in the answer of the POST that mints it: shown in the page's "New token"
// panel until the admin leaves or reloads the page, never stored.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const notice = document.getElementById("notice");

function say(text, kind = "info") {
  if (!notice) return;
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = false;
}

// POSTs JSON; resolves to the answer, or throws an Error whose message a person can act on.
async function post(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
  } catch {
    throw new Error("Could not reach roster: check your network connection, then reload the page to see whether the change was made.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data?.message ?? `roster answered ${response.status} ${response.statusText}.`;
    if (response.status === 401) throw new Error(`${message} Reload the page to sign in again.`);
    throw new Error(message);
  }
  return data;
}

// Replaces the page's sections `ids` by the server's current rendering of them (a GET of this
// page: escaped HTML made by roster, parsed, never a string from the answer of a change).
async function refresh(...ids) {
  let response;
  try {
    response = await fetch(location.pathname + location.search, { credentials: "same-origin" });
  } catch {
    say("The change was made, but the page could not be refreshed: reload it.", "error");
    return;
  }
  if (!response.ok) {
    say("The change was made, but the page could not be refreshed: reload it.", "error");
    return;
  }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const id of ids) {
    const now = document.getElementById(id);
    const next = fresh.getElementById(id);
    if (now && next) now.replaceWith(document.adoptNode(next));
  }
}

// ---- copy buttons ----

async function copy(field) {
  try {
    await navigator.clipboard.writeText(field.value);
    return true;
  } catch {
    field.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  if (await copy(field)) {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  } else {
    field.select();
    say("Could not copy: the text is selected, press Ctrl+C (⌘C on a Mac).", "error");
  }
});

// ---- the new token panel ----

const panel = document.getElementById("new-token");

function showToken(text, token, jti) {
  document.getElementById("new-token-text").textContent = text;
  panel.dataset.jti = jti;
  const field = document.getElementById("new-token-value");
  field.value = token;
  panel.hidden = false;
  field.focus();
  field.select();
}

document.getElementById("new-token-done")?.addEventListener("click", () => {
  document.getElementById("new-token-value").value = "";
  delete panel.dataset.jti;
  panel.hidden = true;
});

// ---- creating a token ----

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.id === "create-token") {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = await post("/admin/connectors/tokens", {
        name: form.elements.name.value,
        role: form.elements.role.value,
        ttl: form.elements.ttl.value,
      });
      showToken(data.notice, data.token, data.jti);
      say(data.notice);
      form.reset();
      await refresh("tokens");
    } catch (error) {
      say(error.message, "error");
    } finally {
      button.disabled = false;
    }
  } else if (form.id === "set-rate-limit") {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = await post("/admin/connectors/rate-limit", {
        perSecond: form.elements.perSecond.value,
        burst: form.elements.burst.value,
      });
      say(data.notice);
      await refresh("rate-limit");
    } catch (error) {
      say(error.message, "error");
    } finally {
      button.disabled = false;
    }
  }
});

// ---- rotating and revoking, confirmed in a dialog ----

const dialog = document.getElementById("token-confirm");

// Opens the dialog; resolves to { overlap } on confirm, null on Cancel or Escape.
function ask({ title, text, confirm, danger, overlap }) {
  dialog.querySelector("#token-confirm-title").textContent = title;
  dialog.querySelector("#token-confirm-text").textContent = text;
  const ok = dialog.querySelector("#token-confirm-ok");
  ok.textContent = confirm;
  ok.classList.toggle("danger", danger);
  const field = dialog.querySelector("#token-overlap");
  field.value = field.dataset.default ?? "";
  dialog.querySelector("#token-overlap-field").hidden = !overlap;
  dialog.returnValue = "";
  dialog.showModal();
  (overlap ? field : dialog.querySelector("#token-confirm-cancel")).focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm" ? { overlap: field.value.trim() } : null);
    }, { once: true });
  });
}

dialog?.querySelector("#token-confirm-cancel").addEventListener("click", () => dialog.close("cancel"));

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-token-action]");
  if (!button) return;
  const row = button.closest("tr");
  const name = row.dataset.name;
  const jti = encodeURIComponent(row.dataset.jti);
  const rotate = button.dataset.tokenAction === "rotate";
  const answer = await ask(rotate
    ? {
      title: `Rotate ${name}?`,
      text: `A new token replaces ${name}. The old token keeps working for the overlap below, so you can put the new one in your identity provider without a failed sync; after it, the old token is refused.`,
      confirm: "Rotate token",
      danger: false,
      overlap: true,
    }
    : {
      title: `Revoke ${name}?`,
      text: `Requests with ${name} are refused from the next one on, on every node. This cannot be undone.`,
      confirm: "Revoke token",
      danger: true,
      overlap: false,
    });
  button.focus();
  if (!answer) return;
  try {
    if (rotate) {
      const data = await post(`/admin/connectors/tokens/${jti}/rotate`, { overlap: answer.overlap });
      showToken(data.notice, data.token, data.jti);
      say(data.notice);
    } else {
      const data = await post(`/admin/connectors/tokens/${jti}/revoke`, {});
      say(data.notice);
    }
    await refresh("tokens");
  } catch (error) {
    say(error.message, "error");
  }
});
