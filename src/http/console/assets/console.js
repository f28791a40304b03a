// roster admin console: row menus, the confirmation dialog, changes without a reload, and the
// console link page. A plain ES module, served from /admin/assets/ (the Content-Security-Policy
// allows no inline script). Every failure shows a message; none leaves a blank page.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const notice = document.getElementById("notice");

function say(text, kind = "info") {
  if (!notice) return;
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = false;
}

// POSTs JSON to the console; resolves to the answer, or throws an Error whose message a person
// can act on.
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
    if (response.status === 409) throw new Error(`This user was changed by someone else at the same time (${message}). Reload the page and try again.`);
    throw new Error(message);
  }
  return data;
}

// ---- row menus (menu button pattern: aria-haspopup, role=menu/menuitem, arrow keys, Escape) ----

function menuOf(button) {
  return document.getElementById(button.getAttribute("aria-controls"));
}

function itemsOf(menu) {
  return [...menu.querySelectorAll('[role="menuitem"]')];
}

function closeMenu(button, focusButton = false) {
  const menu = menuOf(button);
  if (menu) menu.hidden = true;
  button.setAttribute("aria-expanded", "false");
  if (focusButton) button.focus();
}

function closeAllMenus(except) {
  for (const button of document.querySelectorAll('.menu-button[aria-expanded="true"]')) {
    if (button !== except) closeMenu(button);
  }
}

function openMenu(button, last = false) {
  closeAllMenus(button);
  const menu = menuOf(button);
  if (!menu) return;
  menu.hidden = false;
  button.setAttribute("aria-expanded", "true");
  const items = itemsOf(menu);
  (last ? items[items.length - 1] : items[0])?.focus();
}

function buttonOfMenu(menu) {
  return document.querySelector(`.menu-button[aria-controls="${menu.id}"]`);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest(".menu-button");
  if (button) {
    if (button.getAttribute("aria-expanded") === "true") closeMenu(button);
    else openMenu(button);
    return;
  }
  const item = event.target.closest('[role="menuitem"]');
  if (item) {
    const menu = item.closest('[role="menu"]');
    const owner = buttonOfMenu(menu);
    closeMenu(owner);
    confirmRow(item.closest("tr"), item.dataset.action, owner);
    return;
  }
  if (!event.target.closest('[role="menu"]')) closeAllMenus();
});

document.addEventListener("keydown", (event) => {
  const button = event.target.closest?.(".menu-button");
  if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    event.preventDefault();
    openMenu(button, event.key === "ArrowUp");
    return;
  }
  const item = event.target.closest?.('[role="menuitem"]');
  if (!item) return;
  const menu = item.closest('[role="menu"]');
  const items = itemsOf(menu);
  const at = items.indexOf(item);
  const owner = buttonOfMenu(menu);
  switch (event.key) {
    case "ArrowDown": event.preventDefault(); items[(at + 1) % items.length].focus(); break;
    case "ArrowUp": event.preventDefault(); items[(at - 1 + items.length) % items.length].focus(); break;
    case "Home": event.preventDefault(); items[0].focus(); break;
    case "End": event.preventDefault(); items[items.length - 1].focus(); break;
    case "Escape": event.preventDefault(); closeMenu(owner, true); break;
    case "Tab": closeMenu(owner); break;
    default: break;
  }
});

// ---- the confirmation dialog ----

const dialog = document.getElementById("confirm");

// Opens the dialog; resolves to { reason, hold } on confirm, null on Cancel or Escape. The
// "Hold" checkbox shows for a deactivation (danger) only.
function ask({ title, text, confirm, danger }) {
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-text").textContent = text;
  const ok = dialog.querySelector("#confirm-ok");
  ok.textContent = confirm;
  ok.classList.toggle("danger", danger);
  const reason = dialog.querySelector("#confirm-reason");
  reason.value = "";
  const hold = dialog.querySelector("#confirm-hold");
  if (hold) {
    hold.checked = false;
    hold.closest(".hold").hidden = !danger;
  }
  dialog.returnValue = "";
  dialog.showModal();
  reason.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm" ? { reason: reason.value.trim(), hold: Boolean(danger && hold?.checked) } : null);
    }, { once: true });
  });
}

dialog?.querySelector("#confirm-cancel").addEventListener("click", () => dialog.close("cancel"));

// ---- rows ----

function updateRow(user) {
  const row = document.getElementById(`user-${user.id}`);
  if (!row) return;
  row.dataset.active = String(user.active);
  const badge = row.querySelector(".badge");
  badge.textContent = user.status;
  badge.classList.toggle("active", user.active);
  badge.classList.toggle("deactivated", !user.active);
  row.querySelector(".last-change").textContent = user.lastChange;
  const item = row.querySelector('[role="menuitem"]');
  item.dataset.action = user.active ? "deactivate" : "activate";
  item.textContent = user.active ? "Deactivate user" : "Activate user";
}

async function confirmRow(row, action, returnFocus) {
  const name = row.dataset.userName;
  const deactivate = action === "deactivate";
  const answer = await ask({
    title: deactivate ? `Deactivate ${name}?` : `Activate ${name}?`,
    text: deactivate
      ? `${name} loses access to the organization: every token acting as this user is refused from the next request. You can activate the user again later.`
      : `${name} regains access to the organization.`,
    confirm: deactivate ? "Deactivate user" : "Activate user",
    danger: deactivate,
  });
  returnFocus?.focus();
  if (!answer) return;
  try {
    const data = await post(`/admin/users/${encodeURIComponent(row.dataset.id)}/${action}`, { reason: answer.reason || null, hold: answer.hold });
    data.users.forEach(updateRow);
    say(data.notice);
  } catch (error) {
    say(error.message, "error");
  }
}

// ---- selection and bulk changes ----

const selectAll = document.getElementById("select-all");
const count = document.getElementById("selected-count");
const bulkButtons = [document.getElementById("bulk-deactivate"), document.getElementById("bulk-activate")].filter(Boolean);

function selectedRows() {
  return [...document.querySelectorAll(".row-select:checked")].map((box) => box.closest("tr"));
}

function refreshSelection() {
  const n = selectedRows().length;
  if (count) count.textContent = `${n} selected`;
  for (const button of bulkButtons) button.disabled = n === 0;
  if (selectAll) {
    const all = document.querySelectorAll(".row-select").length;
    selectAll.checked = n > 0 && n === all;
    selectAll.indeterminate = n > 0 && n < all;
  }
}

document.addEventListener("change", (event) => {
  if (event.target === selectAll) {
    for (const box of document.querySelectorAll(".row-select")) box.checked = selectAll.checked;
  }
  if (event.target === selectAll || event.target.classList?.contains("row-select")) refreshSelection();
});

for (const button of bulkButtons) {
  button.addEventListener("click", async () => {
    const rows = selectedRows();
    const n = rows.length;
    if (n === 0) return;
    const deactivate = button.dataset.action === "deactivate";
    const users = n === 1 ? "1 user" : `${n} users`;
    const answer = await ask({
      title: deactivate ? `Deactivate ${users}?` : `Activate ${users}?`,
      text: deactivate
        ? `The ${users} selected lose access to the organization. Each change is recorded in the audit log.`
        : `The ${users} selected regain access to the organization.`,
      confirm: deactivate ? `Deactivate ${users}` : `Activate ${users}`,
      danger: deactivate,
    });
    button.focus();
    if (!answer) return;
    try {
      const data = await post("/admin/users/bulk", {
        action: button.dataset.action,
        ids: rows.map((row) => row.dataset.id),
        reason: answer.reason || null,
        hold: answer.hold,
      });
      data.users.forEach(updateRow);
      const failed = data.failures.map((f) => `${f.id}: ${f.message}`).join("; ");
      say(failed ? `${data.notice} ${failed}` : data.notice, data.failures.length ? "error" : "info");
      for (const box of document.querySelectorAll(".row-select")) box.checked = false;
      refreshSelection();
    } catch (error) {
      say(error.message, "error");
    }
  });
}

// ---- the console link page: the secret travels in the fragment, never to a server log ----

const linkSecret = document.getElementById("link-secret");
if (linkSecret) {
  linkSecret.value = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, "", location.pathname);
}
