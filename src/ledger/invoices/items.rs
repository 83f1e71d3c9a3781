//! An invoice's lines: what a merchant may bill, and the total the server computes.

use crate::protocol::ApiError;
use crate::protocol::payments::LineItem;

/// Most lines on one invoice.
pub const MAX_ITEMS: usize = 50;
/// Most of one item on one invoice.
pub const MAX_QUANTITY: u32 = 1000;
pub const MAX_ITEM_NAME_CHARS: usize = 100;
/// The sum of the items, checked: every line valid, no overflow.
pub fn total_of(items: &[LineItem]) -> Result<i64, ApiError> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(ApiError::invalid(format!(
            "an invoice has 1 to {MAX_ITEMS} items"
        )));
    }
    let mut total: i64 = 0;
    for item in items {
        let name_chars = item.name.chars().count();
        if name_chars == 0
            || name_chars > MAX_ITEM_NAME_CHARS
            || item.name.chars().any(char::is_control)
        {
            return Err(ApiError::invalid(format!(
                "item name {:?} must be 1 to {MAX_ITEM_NAME_CHARS} characters without control characters",
                item.name
            )));
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(ApiError::invalid(format!(
                "{}: quantity must be 1 to {MAX_QUANTITY}",
                item.name
            )));
        }
        if item.unit_price_minor <= 0 {
            return Err(ApiError::invalid(format!(
                "{}: the unit price must be positive",
                item.name
            )));
        }
        total = item
            .unit_price_minor
            .checked_mul(i64::from(item.quantity))
            .and_then(|line| total.checked_add(line))
            .ok_or_else(|| ApiError::invalid("the invoice's total is too large"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, quantity: u32, unit_price_minor: i64) -> LineItem {
        LineItem {
            name: name.into(),
            quantity,
            unit_price_minor,
        }
    }

    #[test]
    fn totals_are_the_exact_sum_of_the_items_and_bad_lines_are_refused() {
        assert_eq!(
            total_of(&[item("latte", 2, 350), item("croissant", 1, 280)]).unwrap(),
            980
        );
        assert!(total_of(&[]).is_err());
        assert!(total_of(&[item("latte", 0, 350)]).is_err());
        assert!(total_of(&[item("latte", 1, 0)]).is_err());
        assert!(total_of(&[item("", 1, 1)]).is_err());
        assert!(
            total_of(&[item("x", MAX_QUANTITY, i64::MAX / 2)]).is_err(),
            "overflow is refused"
        );
    }
}
