"""The Airflow 3 UI in headless Chromium: trigger form, HubSpot connection form, extra links.

Each test saves a screenshot to ``test-artifacts/`` (linked from the README).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from tests.compat import airflow_at_least

from .airflow_deployment import ADMIN_USER, AirflowDeployment
from .browser import chromium, ensure_chromium, log_in, save_screenshot, wait_for
from .conftest import ARTIFACTS, FORM_DAG_ID, BookedRun

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
EXTRA_LINKS = ("HubSpot contact", "Web conference")
#: The connection list's "Test Connection" sends a port of 0 for a connection without one (3.3's UI).
LIST_TEST_SENDS_PORT_0 = airflow_at_least("3.3")
#: Forms built from the hook's widget methods (before 3.2) show PasswordField extras as text inputs.
SECRET_EXTRAS_SHOWN_IN_CLEAR = not airflow_at_least("3.2")

#: Every labelled row of a form in a dialog: its label and controls, as the user sees them.
FORM_ROWS_JS = """
const dialog = arguments[0];
return [...dialog.querySelectorAll('[data-scope=field][data-part=root]')].map(row => ({
  label: (row.querySelector('label') || {innerText: ''}).innerText.replace('*', '').trim(),
  widgets: [...row.querySelectorAll('[data-testid]')].map(el => el.dataset.testid),
  controls: [...row.querySelectorAll('input, textarea')].map(el => ({
    name: el.name, type: el.type, role: el.getAttribute('role'), value: el.value, checked: el.checked,
    placeholder: el.placeholder})),
  text: row.innerText,
}));
"""


@pytest.fixture(scope="module")
def browser(airflow: AirflowDeployment) -> Iterator[Any]:
    """One signed-in Chromium for the module."""
    ensure_chromium()
    with chromium() as driver:
        log_in(driver, airflow.url, ADMIN_USER, airflow.password)
        yield driver


def by_css(scope: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(scope.find_elements(By.CSS_SELECTOR, selector))


def open_dialog(driver: Any, title: str) -> Any:
    """The modal dialog whose text starts with ``title`` (Chakra also renders popovers as dialogs)."""
    return wait_for(
        lambda: next((d for d in by_css(driver, "[role=dialog]") if d.text.startswith(title)), None),
        f"the {title!r} dialog",
    )


def form_rows(driver: Any, dialog: Any) -> dict[str, dict[str, Any]]:
    return {row["label"]: row for row in driver.execute_script(FORM_ROWS_JS, dialog) if row["label"]}


@contextmanager
def tall_window(driver: Any) -> Iterator[None]:
    """A window tall enough that a whole dialog fits in its screenshot; normal size again afterwards."""
    size = driver.get_window_size()
    driver.set_window_size(size["width"], 2400)
    try:
        yield
    finally:
        driver.set_window_size(size["width"], size["height"])


def click_when_ready(find: Callable[[], Any], what: str) -> Any:
    """Click what ``find`` returns once it takes the click (a dialog may still be opening)."""

    def attempt() -> Any:
        element = find()
        element.click()
        return element

    return wait_for(attempt, what)


def click_button(scope: Any, text: str) -> None:
    wait_for(lambda: [b for b in by_css(scope, "button") if b.text == text], f"the {text!r} button")[
        0
    ].click()


def test_trigger_form_renders_the_params_as_fields(browser: Any, airflow: AirflowDeployment) -> None:
    browser.get(f"{airflow.url}/dags/{FORM_DAG_ID}")
    wait_for(lambda: by_css(browser, "[data-testid=trigger-dag-button]"), "the Trigger button")[0].click()
    dialog = open_dialog(browser, "Trigger Dag")
    wait_for(lambda: by_css(dialog, "[name=element_contact_email]"), "the Run Parameters fields")
    by_css(dialog, "[name=element_contact_email]")[0].send_keys("ada.lovelace@example.com")
    by_css(dialog, "[name=element_first_name]")[0].send_keys("Ada")
    by_css(dialog, "[name=element_last_name]")[0].send_keys("Lovelace")

    rows = form_rows(browser, dialog)

    assert [c["name"] for c in rows["Booker's email"]["controls"]] == ["element_contact_email"]
    assert "HubSpot finds or creates the contact" in rows["Booker's email"]["text"]
    assert "datetime-input" in rows["Start time"]["widgets"], "start time is a date-time picker"
    assert rows["Meeting page slug"]["controls"][0]["value"] == "alice-smith"
    assert rows["Time zone"]["controls"][0]["value"] == "UTC"
    [dry_run] = rows["Dry run"]["controls"]
    assert (dry_run["name"], dry_run["type"], dry_run["checked"]) == ("element_dry_run", "checkbox", False)
    assert "Answers to the page's questions (optional)" in rows
    assert "Consent checkboxes (optional)" in rows
    # Duration: a choice among the page's durations, shown by name.
    assert "30 minutes" in rows["Duration"]["text"]
    duration_row = browser.execute_script(
        "return [...arguments[0].querySelectorAll('[data-scope=field][data-part=root]')]"
        ".find(row => row.innerText.startsWith('Duration'))",
        dialog,
    )
    by_css(duration_row, "input[role=combobox]")[0].click()
    choices = wait_for(lambda: by_css(browser, "[id^=react-select][id*=-option-]"), "the duration choices")
    assert [choice.text for choice in choices] == ["15 minutes", "30 minutes", "60 minutes"]
    choices[1].click()  # keep 30 minutes; closes the menu
    with tall_window(browser):
        save_screenshot(dialog, ARTIFACTS / "trigger-form.png")


def open_hubspot_connection_form(browser: Any, airflow: AirflowDeployment) -> Any:
    """The "Add Connection" dialog with the HubSpot type chosen (its fields rendered)."""
    browser.get(f"{airflow.url}/connections")
    click_button(browser, "Add Connection")
    dialog = open_dialog(browser, "Add Connection")
    connection_type = click_when_ready(lambda: by_css(dialog, "input[role=combobox]")[0], "the type picker")
    connection_type.send_keys("HubSpot")
    wait_for(
        lambda: [o for o in by_css(browser, "[role=option]") if o.text == "HubSpot"], "the HubSpot type"
    )[0].click()
    wait_for(lambda: by_css(dialog, "input[name=password]"), "the HubSpot connection fields")
    return dialog


def test_hubspot_connection_form_has_custom_fields(browser: Any, airflow: AirflowDeployment) -> None:
    dialog = open_hubspot_connection_form(browser, airflow)
    token_input = by_css(dialog, "input[name=password]")[0]
    by_css(dialog, "input[name=connection_id]")[0].send_keys("hubspot_default")
    standard = form_rows(browser, dialog)

    [token] = standard["Access token (service key, private app or OAuth)"]["controls"]
    assert (token["name"], token["type"]) == ("password", "password")
    assert token["placeholder"].startswith("pat-na1-")
    assert token_input.is_displayed()
    # By name: Airflow 3.1 does not label the host row the way 3.3 does.
    assert by_css(dialog, "input[name=host]")[0].get_attribute("placeholder") == "https://api.hubapi.com"
    for hidden in ("Login", "Schema", "Port"):
        assert hidden not in standard
    with tall_window(browser):
        save_screenshot(dialog, ARTIFACTS / "connection-form.png")

    click_button(dialog, "Extra Fields")
    wait_for(lambda: by_css(dialog, "input[name=element_portal_id]")[0].is_displayed(), "the extra fields")
    rows = form_rows(browser, dialog)

    expected = {
        "API version": "element_api_version",
        "Timeout (seconds)": "element_timeout",
        "Portal (hub) ID": "element_portal_id",
        "OAuth client ID": "element_client_id",
        "OAuth client secret": "element_client_secret",
        "OAuth refresh token": "element_refresh_token",
    }
    for label, name in expected.items():
        assert name in [c["name"] for c in rows[label]["controls"]], label
    # Airflow 3.1 renders the hook's PasswordField extras as plain inputs (3.3 masks them): a known gap
    # of that UI generation, pinned here so a change either way is noticed.
    secret_input = "text" if SECRET_EXTRAS_SHOWN_IN_CLEAR else "password"
    for secret in ("OAuth client secret", "OAuth refresh token"):
        assert rows[secret]["controls"][0]["type"] == secret_input
    with tall_window(browser):
        save_screenshot(dialog, ARTIFACTS / "connection-form-extra-fields.png")


@pytest.mark.xfail(
    LIST_TEST_SENDS_PORT_0,
    strict=True,
    reason=(
        "Airflow 3.3's connection list tests a saved connection with port Number(null) = 0, which the API "
        "server takes for a changed port and refuses ('Bad Request') unless the request carries its own "
        "credentials; the HubSpot form hides the port, so it is always unset"
    ),
)
def test_connection_form_saves_and_test_connection_shows_hubspots_answer(
    browser: Any, airflow: AirflowDeployment, sandbox: Any
) -> None:
    conn_id = "hubspot_from_the_ui"
    dialog = open_hubspot_connection_form(browser, airflow)
    by_css(dialog, "input[name=connection_id]")[0].send_keys(conn_id)
    by_css(dialog, "input[name=host]")[0].send_keys(sandbox.url)
    by_css(dialog, "input[name=password]")[0].send_keys(sandbox.token)
    click_button(dialog, "Save")
    row = wait_for(
        lambda: [r for r in by_css(browser, "tbody tr") if conn_id in r.text], "the saved connection's row"
    )[0]
    testing_before = len([r for r in sandbox.requests if r.path.endswith("/meeting-links")])

    by_css(row, "button[aria-label='Test Connection']")[0].click()

    def toast_text() -> str | None:
        text = str(browser.execute_script("return document.body.innerText"))
        return text if "Test Connection Successful" in text or "Test Connection Failed" in text else None

    shown = wait_for(toast_text, "the connection test's result")
    assert "Test Connection Successful" in shown, shown
    assert f"Connected to HubSpot at {sandbox.url}" in shown
    assert "the token can read meeting links" in shown
    # The hook's test really asked HubSpot (the sandbox) with the saved token.
    testing_requests = [r for r in sandbox.requests if r.path.endswith("/meeting-links")]
    assert len(testing_requests) == testing_before + 1
    save_screenshot(browser, ARTIFACTS / "connection-test.png")


def test_booking_task_shows_its_extra_links(
    browser: Any, airflow: AirflowDeployment, booked_run: BookedRun, sandbox: Any
) -> None:
    assert booked_run.run["state"] == "success"
    task_url = f"{airflow.url}/dags/{FORM_DAG_ID}/runs/{quote(booked_run.run_id, safe='')}/tasks/book_meeting"
    browser.get(f"{task_url}/details")

    def extra_links() -> dict[str, str] | None:
        found = {a.text: a.get_attribute("href") for a in by_css(browser, "a") if a.text in EXTRA_LINKS}
        return found if len(found) == len(EXTRA_LINKS) else None

    links = wait_for(extra_links, "the task's extra links")

    [booking] = [b for b in sandbox.bookings if b["request"]["email"] == booked_run.conf["contact_email"]]
    assert links == {
        "HubSpot contact": f"https://app.hubspot.com/contacts/24681357/record/0-1/{booking['contactId']}",
        "Web conference": booking["webConferenceUrl"],
    }
    save_screenshot(browser, ARTIFACTS / "task-extra-links.png")
