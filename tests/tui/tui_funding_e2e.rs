//! Issue 15's end to end: in `quid demo` (tmux), alice asks for a top-up with F5, a real
//! browser (the distribution's headless Chromium) opens the checkout page and clicks Pay, and
//! the TUI shows the new balance; then she withdraws, and the balance and the notice follow.
//! Skipped, with a message, where tmux or Chromium is missing (.ci/run installs both).

use crate::common::chromium::Chromium;
use crate::common::process::QUID;
use crate::common::tmux::{Tmux, tmux_missing};

/// The checkout address on the screen.
fn checkout_url(screen: &str) -> Option<String> {
    let start = screen.find("http://")?;
    let url: String = screen[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '│')
        .collect();
    url.contains("/checkout/tu_").then_some(url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_tops_up_through_a_real_browser_in_the_demo_then_withdraws() {
    if tmux_missing() {
        return;
    }
    let Some(browser) = Chromium::start() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let command = format!(
        "QUID_DATA_DIR={} {QUID} demo; echo quid-exited-$?",
        data.path().display()
    );
    let tmux = Tmux::start("topup", &command);
    tmux.wait_for("the demo with alice's balance", |s| {
        s.contains("● connected") && s.contains("€250.00")
    });

    tmux.keys(&["F5"]);
    tmux.wait_for("/topup in the composer", |s| s.contains("/topup"));
    tmux.keys(&["20", "Enter"]);
    let screen = tmux.wait_for("the checkout address", |s| checkout_url(s).is_some());
    let url = checkout_url(&screen).unwrap();
    assert!(screen.contains("Pay €20.00 at:"), "{screen}");

    let mut page = browser.open(&url).await;
    page.wait_for(
        "the checkout page",
        "document.getElementById('pay') !== null",
    )
    .await;
    assert_eq!(
        page.eval("document.querySelector('h1').textContent").await,
        "Pay €20.00"
    );
    page.click("#pay").await;
    page.wait_for(
        "the page to say it is paid",
        "document.getElementById('outcome')?.textContent === 'Paid'",
    )
    .await;

    let screen = tmux.wait_for("the new balance", |s| {
        s.contains("€270.00") && s.contains("top-up of €20.00 arrived")
    });
    assert!(
        !screen.contains("Pay €20.00 at:"),
        "the top-up box is gone: {screen}"
    );

    tmux.keys(&["/withdraw 30", "Enter"]);
    tmux.wait_for("the withdrawal's review", |s| {
        s.contains("Withdraw to your bank") && s.contains("DE•••3000") && s.contains("€240.00")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("the receipt", |s| s.contains("on its way to DE•••3000"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the bank's word and the balance", |s| {
        s.contains("withdrawal of €30.00 reached the bank") && s.contains("€240.00")
    });

    tmux.keys(&["C-q"]);
    tmux.wait_for("the demo to end", |s| s.contains("quid-exited-0"));
}
