//! Wrapping by display width: CJK takes two columns, emoji sequences and combining marks stay
//! whole (grapheme clusters), words move to the next line when they fit there.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Display width of `text` in terminal columns.
pub fn width(text: &str) -> usize {
    text.width()
}

/// Splits `text` into lines no wider than `max_width` columns. Explicit newlines are kept;
/// a line breaks after a space where it can, inside a word only when the word is too long.
pub fn wrap(text: &str, max_width: usize) -> Vec<String> {
    let max_width = max_width.max(2); // A double-width character needs two columns.
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        wrap_paragraph(paragraph, max_width, &mut lines);
    }
    lines
}

fn wrap_paragraph(paragraph: &str, max_width: usize, lines: &mut Vec<String>) {
    let mut line = String::new();
    let mut line_width = 0;
    for word in runs(paragraph) {
        let word_width = word.width();
        if line_width + word_width <= max_width {
            line.push_str(word);
            line_width += word_width;
            continue;
        }
        if word.trim().is_empty() {
            // A space at the break: the line ends here and the space is dropped.
            lines.push(std::mem::take(&mut line));
            line_width = 0;
            continue;
        }
        if word_width <= max_width && line_width > 0 {
            lines.push(std::mem::take(&mut line).trim_end().to_owned());
            line_width = 0;
        }
        for grapheme in word.graphemes(true) {
            let grapheme_width = grapheme.width();
            if line_width + grapheme_width > max_width && line_width > 0 {
                lines.push(std::mem::take(&mut line));
                line_width = 0;
            }
            line.push_str(grapheme);
            line_width += grapheme_width;
        }
    }
    lines.push(line);
}

/// Splits text into alternating runs of spaces and of everything else: the units a line may
/// break between ("[MEMO]" stays one piece).
fn runs(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let spaces = first.is_whitespace();
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace() != spaces)
            .map_or(rest.len(), |(i, _)| i);
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

/// Cuts `text` to `columns` display columns, marking the cut with `…`.
pub fn truncate(text: &str, columns: usize) -> String {
    if width(text) <= columns {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if width(&out) + width(&c.to_string()) + 1 > columns {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// An invoice's lines in columns: quantities right-aligned, names padded to the widest (in
/// display columns, so CJK and emoji line up), amounts right-aligned after them.
pub fn invoice_lines(items: &[(u32, String, crate::money::Money)]) -> Vec<String> {
    let quantities: Vec<String> = items.iter().map(|(q, ..)| q.to_string()).collect();
    let amounts: Vec<String> = items.iter().map(|(.., m)| m.to_string()).collect();
    let widest = |texts: &mut dyn Iterator<Item = &str>| texts.map(width).max().unwrap_or(0);
    let quantity_width = widest(&mut quantities.iter().map(String::as_str));
    let name_width = widest(&mut items.iter().map(|(_, name, _)| name.as_str()));
    let amount_width = widest(&mut amounts.iter().map(String::as_str));
    items
        .iter()
        .zip(quantities.iter().zip(&amounts))
        .map(|((_, name, _), (quantity, amount))| {
            format!(
                "{}{quantity} × {name}{}  {}{amount}",
                " ".repeat(quantity_width - width(quantity)),
                " ".repeat(name_width - width(name)),
                " ".repeat(amount_width - width(amount)),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoices_lines_line_up_by_display_width() {
        let eur = crate::money::Currency::from_code("EUR").unwrap();
        let item =
            |q, name: &str, minor| (q, name.to_owned(), crate::money::Money::new(minor, eur));
        let lines = invoice_lines(&[
            item(2, "latte", 700),
            item(12, "croissant", 280),
            item(1, "抹茶 ☕", 1_250),
        ]);
        assert_eq!(
            lines,
            [
                " 2 × latte       €7.00",
                "12 × croissant   €2.80",
                " 1 × 抹茶 ☕    €12.50",
            ]
        );
        let columns: Vec<usize> = lines.iter().map(|l| width(l)).collect();
        assert!(columns.iter().all(|&w| w == columns[0]), "{columns:?}");
    }

    fn widths(lines: &[String]) -> Vec<usize> {
        lines.iter().map(|l| width(l)).collect()
    }

    #[test]
    fn words_move_whole_to_the_next_line() {
        assert_eq!(wrap("the quick brown fox", 10), ["the quick", "brown fox"]);
        assert_eq!(wrap("a\nb c", 10), ["a", "b c"]);
        assert_eq!(
            wrap("/split AMOUNT [MEMO] · /help", 16),
            ["/split AMOUNT", "[MEMO] · /help"]
        );
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn long_words_break_by_column() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn cjk_counts_two_columns_and_is_never_split() {
        let lines = wrap("日本語のテキストです", 7);
        assert!(widths(&lines).iter().all(|&w| w <= 7), "{lines:?}");
        assert_eq!(lines.concat(), "日本語のテキストです");
        assert_eq!(lines[0], "日本語");
    }

    #[test]
    fn emoji_sequences_and_combining_marks_stay_whole() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let text = format!("{family}{family}{family} e\u{301}e\u{301}e\u{301}");
        let lines = wrap(&text, 4);
        assert!(widths(&lines).iter().all(|&w| w <= 4), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains(family)));
        assert!(lines.iter().all(|l| !l.starts_with('\u{301}')));
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }
}
