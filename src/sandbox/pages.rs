//! The sandbox's web pages: the hosted checkout (card number, Pay, Decline), its second step,
//! and what happened. Plain HTML forms, no JavaScript, so a text browser (w3m, lynx) can pay
//! from a terminal as well as Chromium can.

use super::book;
use crate::money::{Currency, Money};
use crate::partner::sandbox::Object;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;\
padding:0 1rem;color:#1d1d1f}h1{font-size:1.6rem}button{font-size:1rem;padding:.5rem 1.2rem;\
margin:.5rem .5rem 0 0}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}\
.note{color:#6e6e73;font-size:.9rem}.error{color:#b00020}code{font-size:.9rem}";

/// A whole page around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <style>{STYLE}</style></head><body><main>\n{body}\n</main></body></html>\n",
        title = escape(title)
    )
}

/// Text made safe to put in HTML, as content or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn amount(object: &Object) -> String {
    Currency::from_code(&object.currency).map_or_else(
        |_| format!("{} {}", object.amount, object.currency),
        |currency| Money::new(object.amount, currency).to_string(),
    )
}

const TEST_CARDS: &[(&str, &str)] = &[
    (book::CARD_SUCCEEDS, "succeeds"),
    (book::CARD_DECLINED, "is declined"),
    (book::CARD_NO_FUNDS, "is declined: insufficient funds"),
    (
        book::CARD_AUTHENTICATE,
        "asks for a second step (3-D Secure)",
    ),
    (book::CARD_DELAYED, "succeeds after a delay"),
];

/// The checkout page of a pending top-up, with `error` above the form if the last try was
/// wrong.
pub fn checkout(topup: &Object, error: Option<&str>) -> String {
    let id = escape(&topup.id);
    let amount = escape(&amount(topup));
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))
    });
    let cards: String = TEST_CARDS
        .iter()
        .map(|(number, what)| format!("<li><code>{number}</code> {what}</li>"))
        .collect();
    page(
        "Sandbox checkout",
        &format!(
            "<h1>Pay {amount}</h1>\
             <p class=\"note\">Top-up {id} · quid's sandbox partner: no real money moves.</p>{error}\
             <form method=\"post\" action=\"/checkout/{id}\">\
             <label for=\"card\">Card number</label>\
             <input id=\"card\" name=\"card\" value=\"{card}\" autocomplete=\"off\" inputmode=\"numeric\">\
             <button type=\"submit\" id=\"pay\" name=\"action\" value=\"pay\">Pay {amount}</button>\
             <button type=\"submit\" id=\"decline\" name=\"action\" value=\"decline\">Decline</button>\
             </form><h2>Test cards</h2><ul>{cards}</ul>",
            card = "4242 4242 4242 4242",
        ),
    )
}

/// The second step a card asked for.
pub fn authenticate(topup: &Object) -> String {
    let id = escape(&topup.id);
    page(
        "Sandbox: confirm the payment",
        &format!(
            "<h1>Confirm {amount}</h1><p>Your bank asks you to confirm this payment.</p>\
             <form method=\"post\" action=\"/checkout/{id}/authenticate\">\
             <button type=\"submit\" id=\"complete\" name=\"action\" value=\"complete\">Complete</button>\
             <button type=\"submit\" id=\"fail\" name=\"action\" value=\"fail\">Fail</button></form>",
            amount = escape(&amount(topup)),
        ),
    )
}

/// Where a top-up stands, for the payer.
pub fn outcome(topup: &Object) -> String {
    let amount = escape(&amount(topup));
    let (title, says) = match topup.status.as_str() {
        "succeeded" => (
            "Paid",
            format!("Paid {amount}. You can close this page: quid has been told."),
        ),
        "processing" => (
            "Processing",
            format!("Your bank is processing {amount}. quid will show it once it arrives."),
        ),
        "failed" => (
            "Not paid",
            format!(
                "Not paid: {}. Nothing was charged.",
                escape(topup.failure_reason.as_deref().unwrap_or("failed"))
            ),
        ),
        "requires_action" => return authenticate(topup),
        _ => ("Waiting", format!("{amount} is waiting to be paid.")),
    };
    page(
        &format!("Sandbox: {title}"),
        &format!("<h1 id=\"outcome\">{title}</h1><p>{says}</p>"),
    )
}

/// A page for a problem: no such top-up, a bad form.
pub fn problem(message: &str) -> String {
    page(
        "Sandbox: problem",
        &format!("<h1>Problem</h1><p class=\"error\">{}</p>", escape(message)),
    )
}

/// The sandbox's front page.
pub fn index() -> String {
    page(
        "quid sandbox partner",
        "<h1>quid sandbox partner</h1><p>A test payment partner for quid: top-ups with a \
         hosted checkout page, payouts and refunds over a small JSON API, and signed webhooks. \
         No real money moves. See docs/PARTNERS.md in quid's repository.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkout_form_needs_no_script_and_escapes_what_it_shows() {
        let topup = Object {
            id: "tu_1".into(),
            object: "topup".into(),
            amount: 1250,
            currency: "EUR".into(),
            status: "pending".into(),
            failure_reason: None,
            checkout_url: None,
            reference: String::new(),
        };
        let html = checkout(&topup, Some("<b>\"4\"</b> is not a test card"));
        assert!(html.contains("<form method=\"post\" action=\"/checkout/tu_1\">"));
        assert!(html.contains("value=\"pay\">Pay €12.50</button>"), "{html}");
        assert!(html.contains("&lt;b&gt;&quot;4&quot;&lt;/b&gt;"));
        assert!(!html.contains("<script"));
    }
}
