"""The account page as a person uses it, in headless Chromium at a phone's width, with a
virtual WebAuthn authenticator: sign up and verify the email, set up an authenticator app
from the key the page shows, log out, log in with the password and the app's code, add a
passkey, log out, sign in with the passkey, remove it (the token is aal2 and recent) and
see it stop working. Every field has a label and the forms are sent from the keyboard.

    python test_account_page.py --page http://localhost:PORT/account/ \
        --emulator http://127.0.0.1:PORT --screenshots DIR
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyotp
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions
from selenium.webdriver.support.ui import WebDriverWait

PASSWORD = "a page-tested passphrase"


def browser():
    options = webdriver.ChromeOptions()
    # Debian's, unless the environment names another Chromium and its driver.
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp(prefix='account-page-')}",
        "--window-size=375,812",
    ]:
        options.add_argument(flag)
    driver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    return webdriver.Chrome(service=Service(driver), options=options)


class Page:
    def __init__(self, driver, url, emulator, shots):
        self.d, self.url, self.emulator, self.shots = driver, url, emulator, Path(shots)
        self.wait = WebDriverWait(driver, 20)
        self.step = 0

    def shot(self, name):
        self.step += 1
        self.d.save_screenshot(str(self.shots / f"{self.step:02d}-{name}.png"))

    def el(self, element_id):
        return self.d.find_element(By.ID, element_id)

    def button(self, text):
        matches = [b for b in self.d.find_elements(By.TAG_NAME, "button") if b.text == text and b.is_displayed()]
        assert matches, f"no visible button says {text!r}"
        return matches[0]

    def fill(self, element_id, value, submit=False):
        field = self.el(element_id)
        field.clear()
        field.send_keys(value + (Keys.ENTER if submit else ""))

    def status(self, text):
        self.wait.until(lambda d: text in self.el("status").text, f"status never said {text!r}: {self.el('status').text!r}")

    def access_claims(self):
        acr = self.el("assurance").get_attribute("data-acr")
        return acr, self.el("assurance").text

    def code_emailed_to(self, address):
        mails = json.load(urllib.request.urlopen(self.emulator + "/_emulator/email"))
        body = [m for m in mails if address in m["to"]][-1]["body"]
        return re.search(r"\b(\d{6})\b", body).group(1)


def check_labels_and_words(page):
    """Every input has a label naming it; the controls say what they do."""
    for field in page.d.find_elements(By.TAG_NAME, "input"):
        field_id = field.get_attribute("id")
        labels = page.d.find_elements(By.CSS_SELECTOR, f"label[for='{field_id}']")
        assert labels and labels[0].get_attribute("textContent").strip(), f"input #{field_id} has no label"
    words = {b.text for b in page.d.find_elements(By.TAG_NAME, "button") if b.is_displayed()}
    for expected in ["Sign up", "Log in", "Sign in with a passkey"]:
        assert expected in words, f"{expected!r} not among {words}"
    labels = {l.text for l in page.d.find_elements(By.TAG_NAME, "label") if l.is_displayed()}
    assert {"Email", "Password"} <= labels, labels
    # Nothing wider than a phone's screen.
    width = page.d.execute_script("return document.documentElement.scrollWidth")
    viewport = page.d.execute_script("return window.innerWidth")
    assert viewport == 375, viewport
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px window"


def run(page):
    # A phone's screen: headless windows do not go narrower than 500 px by themselves.
    page.d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True},
    )
    page.d.get(page.url)
    page.wait.until(lambda d: page.el("login-form").is_displayed())
    check_labels_and_words(page)
    page.shot("signed-out")

    email = f"page-{int(time.time() * 1000) % 10**9}@example.com"
    page.fill("signup-first-name", "Ada")
    page.fill("signup-last-name", "Lovelace")
    page.fill("signup-email", email)
    page.fill("signup-password", PASSWORD, submit=True)
    page.status("Check your email")
    page.fill("verify-code", page.code_emailed_to(email), submit=True)
    page.status("Your email is verified")
    page.fill("login-password", PASSWORD, submit=True)
    page.status("You are logged in")
    acr, _ = page.access_claims()
    assert acr == "aal1", acr
    assert "Ada Lovelace" in page.el("profile").text
    page.shot("signed-in")

    # The authenticator app, from the key the page shows.
    # The first factor is confirmed by a code to the proven address first.
    page.button("Set up an authenticator app").click()
    page.status("Enter it to go on")
    page.shot("confirm-first-factor")
    page.fill("confirm-code", page.code_emailed_to(email), submit=True)
    page.wait.until(lambda d: page.el("totp-secret").text)
    assert page.el("totp-qr").get_attribute("src").startswith("data:image/svg+xml;base64,")
    totp = pyotp.TOTP(page.el("totp-secret").text)
    page.shot("authenticator-setup")
    page.fill("totp-code", totp.now(), submit=True)
    page.status("The authenticator app is on")
    codes = page.d.find_elements(By.CSS_SELECTOR, "#recovery-codes li")
    assert len(codes) == 10, len(codes)
    page.shot("recovery-codes")

    page.button("Log out").click()
    page.status("You are logged out")
    page.fill("login-email", email)
    page.fill("login-password", PASSWORD, submit=True)
    page.status("Enter the code from your authenticator app")
    page.shot("second-step")
    # The next step's code: the one that turned the app on is spent.
    page.fill("second-step-code", totp.at(time.time() + 30), submit=True)
    page.status("You are logged in")
    acr, text = page.access_claims()
    assert acr == "aal2" and "otp" in text, text

    # A passkey, on a virtual authenticator that keeps resident keys and verifies its user.
    options = VirtualAuthenticatorOptions()
    options.protocol = VirtualAuthenticatorOptions.Protocol.CTAP2
    options.transport = VirtualAuthenticatorOptions.Transport.INTERNAL
    options.has_resident_key = True
    options.has_user_verification = True
    options.is_user_verified = True
    page.d.add_virtual_authenticator(options)
    page.button("Add a passkey").click()
    page.status("The passkey is added")
    assert len(page.d.get_credentials()) == 1
    page.shot("passkey-added")

    page.button("Log out").click()
    page.status("You are logged out")
    page.button("Sign in with a passkey").click()
    page.status("You are logged in")
    acr, text = page.access_claims()
    assert acr == "aal2" and "user" in text, text
    page.shot("signed-in-with-passkey")

    # Removing it (this login is recent and aal2): it signs in no more.
    page.button("Remove this passkey").click()
    page.status("The passkey is removed")
    page.button("Log out").click()
    page.status("You are logged out")
    page.button("Sign in with a passkey").click()
    page.wait.until(lambda d: "did not verify" in page.el("status").text)
    assert "error" in page.el("status").get_attribute("class")
    page.shot("removed-passkey-refused")


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--page", required=True)
    args.add_argument("--emulator", required=True)
    args.add_argument("--screenshots", required=True)
    a = args.parse_args()
    driver = browser()
    page = Page(driver, a.page, a.emulator, a.screenshots)
    try:
        run(page)
    except Exception:
        page.shot("failed")
        print("browser console:", driver.get_log("browser") if hasattr(driver, "get_log") else "", file=sys.stderr)
        raise
    finally:
        driver.quit()
    print(f"account page: every step passed; screenshots in {a.screenshots}")


if __name__ == "__main__":
    main()
