//! The coffee shop: a merchant bot with a menu. "2 latte 1 croissant" gets an invoice;
//! payment gets an order confirmation; "refund ORDER" from the buyer, within ten minutes of
//! ordering, gives the money back. Used by `examples/coffee_shop.rs` and by `quid demo`.

use super::{Bot, BotEvent};
use crate::money::{Currency, Money};
use crate::protocol::payments::{Invoice, InvoiceStatus, LineItem};
use crate::protocol::{Message, TimestampMs};
use std::time::Duration;

/// What the shop sells, in euro cents.
pub const MENU: &[(&str, i64)] = &[
    ("latte", 350),
    ("cappuccino", 320),
    ("espresso", 220),
    ("croissant", 280),
    ("muffin", 300),
];

/// How long an order may be refunded after it was placed.
pub const REFUND_WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long an invoice stays payable.
pub const INVOICE_VALID_FOR: Duration = Duration::from_secs(15 * 60);
/// Most of one thing in one order.
const MAX_PER_ITEM: u32 = 20;

fn euro() -> Currency {
    Currency::from_code("EUR")
        .unwrap_or_else(|_| Currency::all().next().expect("quid knows currencies"))
}

/// The menu, as the shop says it.
pub fn menu_text() -> String {
    let items: Vec<String> = MENU
        .iter()
        .map(|(name, price)| format!("{name} {}", Money::new(*price, euro())))
        .collect();
    format!(
        "Menu: {}. Order like \"2 latte 1 croissant\".",
        items.join(", ")
    )
}

/// Reads an order such as "2 latte 1 croissant" or "a latte and a muffin".
pub fn parse_order(text: &str) -> Result<Vec<LineItem>, String> {
    let mut items: Vec<LineItem> = Vec::new();
    let mut quantity: Option<u32> = None;
    for word in text
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == ',')
    {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        match word {
            "" | "and" | "please" | "plus" => continue,
            "a" | "an" | "one" => quantity = Some(1),
            number if number.chars().all(|c| c.is_ascii_digit()) => {
                quantity = Some(
                    number
                        .parse()
                        .map_err(|_| format!("{number} is a lot of coffee"))?,
                );
            }
            name => {
                let singular = name
                    .strip_suffix('s')
                    .filter(|s| MENU.iter().any(|(m, _)| m == s))
                    .unwrap_or(name);
                let Some((menu_name, price)) = MENU.iter().find(|(m, _)| *m == singular) else {
                    return Err(format!("we have no {name}. {}", menu_text()));
                };
                let count = quantity.take().unwrap_or(1);
                if count == 0 || count > MAX_PER_ITEM {
                    return Err(format!(
                        "we can make 1 to {MAX_PER_ITEM} {menu_name} at a time"
                    ));
                }
                match items.iter_mut().find(|i| i.name == *menu_name) {
                    Some(item) => item.quantity = (item.quantity + count).min(MAX_PER_ITEM),
                    None => items.push(LineItem {
                        name: (*menu_name).into(),
                        quantity: count,
                        unit_price_minor: *price,
                    }),
                }
            }
        }
    }
    if items.is_empty() {
        return Err(menu_text());
    }
    Ok(items)
}

/// Runs the shop until the bot's session ends.
pub async fn run(mut bot: Bot) {
    while let Some(event) = bot.next().await {
        match event {
            BotEvent::Message(message) if message.card.is_none() => {
                let reply = answer(&bot, &message).await;
                if let Err(error) = bot.say(message.conversation_id, reply).await {
                    tracing::warn!(%error, "coffee shop cannot answer");
                }
            }
            BotEvent::InvoicePaid(invoice) => {
                let text = confirmation(&invoice);
                if let Err(error) = bot.say(invoice.conversation_id, text).await {
                    tracing::warn!(%error, "coffee shop cannot confirm an order");
                }
            }
            BotEvent::Stopped(reason) => {
                tracing::error!(%reason, "coffee shop stopped");
                return;
            }
            _ => {}
        }
    }
}

async fn answer(bot: &Bot, message: &Message) -> String {
    let text = message.text.trim();
    let lower = text.to_lowercase();
    if let Some(order) = lower.strip_prefix("refund") {
        return refund(bot, message, order.trim()).await;
    }
    if ["menu", "hi", "hello", "hey", "help", "?"].contains(&lower.as_str()) {
        return format!("Welcome to Quid Coffee! {}", menu_text());
    }
    let items = match parse_order(text) {
        Ok(items) => items,
        Err(why) => return format!("Sorry: {why}"),
    };
    let order = format!("order-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    match bot
        .send_invoice(
            message.conversation_id,
            items,
            euro(),
            order.clone(),
            Some(INVOICE_VALID_FOR),
        )
        .await
    {
        Ok(invoice) => format!(
            "That is {} for {order}: pay the invoice above (Tab, Enter, Enter).",
            invoice.total
        ),
        Err(error) => format!("Sorry, I could not write your bill: {error}"),
    }
}

fn confirmation(invoice: &Invoice) -> String {
    let items: Vec<String> = invoice
        .items
        .iter()
        .map(|i| format!("{} × {}", i.quantity, i.name))
        .collect();
    format!(
        "Thank you! {} is being made: {}. Changed your mind? Send \"refund {}\" within 10 minutes.",
        invoice.payload,
        items.join(", "),
        invoice.payload
    )
}

async fn refund(bot: &Bot, message: &Message, order: &str) -> String {
    if order.is_empty() {
        return "Which order? Send \"refund order-…\" as written on your confirmation.".into();
    }
    let invoices = match bot.invoices().await {
        Ok(invoices) => invoices,
        Err(error) => return format!("Sorry, I cannot look that up now: {error}"),
    };
    let Some(invoice) = invoices
        .iter()
        .find(|i| i.payload == order && i.buyer.id == message.sender.id)
    else {
        return format!("I have no {order} of yours.");
    };
    if invoice.status != InvoiceStatus::Paid {
        return format!("{order} is not paid, so there is nothing to refund.");
    }
    if invoice.refunded == invoice.total {
        return format!("{order} is already refunded.");
    }
    let age_ms = TimestampMs::now().0 - invoice.created_at.0;
    if age_ms > REFUND_WINDOW.as_millis() as i64 {
        return format!("Sorry, {order} is more than 10 minutes old.");
    }
    match bot.refund(invoice.id, None).await {
        Ok(refunded) => format!(
            "Refunded {} for {order}. See you soon!",
            refunded.transfer.amount
        ),
        Err(error) => format!("Sorry, the refund failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_read_like_people_write_them() {
        let order = parse_order("2 latte 1 croissant").unwrap();
        assert_eq!(order.len(), 2);
        assert_eq!(
            (
                order[0].name.as_str(),
                order[0].quantity,
                order[0].unit_price_minor
            ),
            ("latte", 2, 350)
        );
        assert_eq!(
            (order[1].name.as_str(), order[1].quantity),
            ("croissant", 1)
        );
        let order = parse_order("A latte, and 2 muffins please").unwrap();
        assert_eq!(order.iter().map(|i| i.quantity).sum::<u32>(), 3);
        assert_eq!(parse_order("latte latte").unwrap()[0].quantity, 2);
        assert!(parse_order("3 pizzas").unwrap_err().contains("no pizzas"));
        assert!(parse_order("").unwrap_err().starts_with("Menu:"));
        assert!(parse_order("99 latte").is_err());
    }
}
