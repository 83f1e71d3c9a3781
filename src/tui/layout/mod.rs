//! Where each part of the screen goes. Shared by the view (to draw) and the state (to know
//! what a page is and what a mouse click hit), so the two never disagree.

use ratatui::layout::Rect;

pub mod cards;
pub mod pane;

/// Below this width the sidebar is hidden and the header names the conversation.
pub const SIDEBAR_MIN_SCREEN_WIDTH: u16 = 60;
/// The composer grows with its text up to this many lines.
pub const COMPOSER_MAX_LINES: u16 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub sidebar: Option<Rect>,
    pub header: Rect,
    pub messages: Rect,
    pub notice: Option<Rect>,
    pub composer: Rect,
    pub status: Rect,
}

pub fn areas(screen: Rect, composer_lines: usize, has_notice: bool) -> Areas {
    let status = Rect {
        y: screen.bottom().saturating_sub(1),
        height: 1.min(screen.height),
        ..screen
    };
    let above_status = Rect {
        height: screen.height.saturating_sub(1),
        ..screen
    };
    let (sidebar, main) = if screen.width >= SIDEBAR_MIN_SCREEN_WIDTH {
        let width = (screen.width / 4).clamp(18, 30);
        let sidebar = Rect {
            width,
            ..above_status
        };
        let main = Rect {
            x: screen.x + width,
            width: screen.width - width,
            ..above_status
        };
        (Some(sidebar), main)
    } else {
        (None, above_status)
    };
    let composer_height = (composer_lines as u16).clamp(1, COMPOSER_MAX_LINES) + 2;
    let composer_height = composer_height.min(main.height.saturating_sub(2));
    let composer = Rect {
        y: main.bottom().saturating_sub(composer_height),
        height: composer_height,
        ..main
    };
    let notice_height = u16::from(has_notice).min(composer.y.saturating_sub(main.y + 1));
    let notice = (notice_height > 0).then(|| Rect {
        y: composer.y - 1,
        height: 1,
        ..main
    });
    let header = Rect {
        height: 1.min(main.height),
        ..main
    };
    let messages_top = header.bottom();
    let messages_bottom = composer.y - notice_height;
    let messages = Rect {
        y: messages_top,
        height: messages_bottom.saturating_sub(messages_top),
        ..main
    };
    Areas {
        sidebar,
        header,
        messages,
        notice,
        composer,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_tile_the_screen_at_every_size() {
        for (width, height) in [(80, 24), (200, 50), (40, 15), (20, 5)] {
            let screen = Rect::new(0, 0, width, height);
            let areas = areas(screen, 1, true);
            assert_eq!(areas.status.bottom(), height);
            assert_eq!(areas.composer.bottom(), height - 1);
            assert_eq!(areas.header.y, 0);
            assert!(areas.messages.bottom() <= areas.composer.y);
            assert_eq!(areas.sidebar.is_some(), width >= SIDEBAR_MIN_SCREEN_WIDTH);
        }
    }
}
