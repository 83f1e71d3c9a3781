//! The event loop: one `select!` over terminal input, session events, finished effects, a tick
//! and SIGTERM. It feeds each to the state, carries out the effects, and draws when dirty.

use super::effects::Executor;
use super::escapes::EscapeRepair;
use super::state::{App, Effect, Msg};
use super::terminal::TerminalGuard;
use super::theme::Theme;
use super::view;
use crate::config::Profile;
use crate::secret::vault::{Unlock, Vault, VaultError};
use crate::session::backoff::Backoff;
use crate::session::{Session, SessionConfig};
use anyhow::Context;
use crossterm::event::{Event, EventStream};
use futures_util::{FutureExt, StreamExt};
use ratatui::layout::Rect;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often time-based parts (countdowns, typing) are re-checked.
const TICK: Duration = Duration::from_millis(250);

/// How the profile's secret store opens: its key file, or the passphrase it was made with,
/// asked here (before the screen is taken) until it is right, three times at most.
fn secret_unlock(profile: &Profile) -> anyhow::Result<Unlock> {
    if !Vault::wants_passphrase(&profile.data_dir)? {
        return Ok(Unlock::KeyFile);
    }
    for attempt in 1..=3 {
        let passphrase = rpassword::prompt_password("Passphrase of your secret store: ")
            .context("cannot read the passphrase")?;
        let unlock = Unlock::Passphrase(passphrase);
        match Vault::open(&profile.data_dir, &unlock) {
            Ok(_) => return Ok(unlock),
            Err(VaultError::WrongPassphrase { .. }) if attempt < 3 => {
                eprintln!("wrong passphrase; try again");
            }
            Err(error) => return Err(error.into()),
        }
    }
    anyhow::bail!("wrong passphrase three times")
}

/// Runs the TUI for `profile`, logged in with `token`, until the user quits.
pub async fn run(profile: &Profile, token: String) -> anyhow::Result<()> {
    let (theme, keymap) =
        super::settings::theme_and_keymap(&profile.tui).map_err(anyhow::Error::msg)?;
    let (session, mut session_events) = Session::start(SessionConfig {
        server: profile.server.clone(),
        ca_file: profile.ca_file.clone(),
        token,
        state_dir: profile.data_dir.clone(),
        subscribe: true,
        backoff: Backoff::default(),
        secret: Some(secret_unlock(profile)?),
    })?;
    let (done_tx, mut done_rx) = mpsc::channel(256);
    // Exports land where quid was started, like a shell command's output would; the demo's
    // data dir is temporary and would take them away on quit.
    let export_dir = std::env::current_dir().unwrap_or_else(|_| profile.data_dir.clone());
    let executor = Executor::new(session, done_tx, &profile.tui, export_dir);

    let mut guard = TerminalGuard::enter().context("cannot set up the terminal")?;
    let size = guard.terminal.size()?;
    let utc_offset = chrono::Local::now().offset().local_minus_utc();
    let screen = Rect::new(0, 0, size.width, size.height);
    let fresh = super::state::fresh::FreshIds::random();
    let mut app = App::new(
        &profile.name,
        keymap,
        screen,
        Instant::now(),
        utc_offset,
        fresh,
    );
    app.bank_account = profile.bank_account.clone();
    app.username = profile.username.clone();
    app.can_open_browser = crate::browser::can_open();
    let mut input = EventStream::new();
    let mut escapes = EscapeRepair::default();
    let mut tick = tokio::time::interval(TICK);
    let mut terminate = terminate_signal()?;
    loop {
        if app.dirty {
            guard
                .terminal
                .draw(|frame| view::draw(frame, &app, &theme))?;
            app.dirty = false;
        }
        let msgs = tokio::select! {
            event = input.next() => match event {
                Some(Ok(event)) => {
                    let mut msgs = to_msgs(event, &mut escapes);
                    msgs.extend(already_read(&mut input, &mut escapes)?);
                    msgs
                }
                Some(Err(error)) => return Err(error).context("cannot read the terminal"),
                None => return Ok(()),
            },
            Some(event) = session_events.recv() => vec![Msg::Session(event)],
            Some(done) = done_rx.recv() => vec![Msg::Done(done)],
            _ = tick.tick() => {
                let mut msgs: Vec<Msg> = escapes.flush().into_iter().map(Msg::Key).collect();
                msgs.push(Msg::Tick { now: Instant::now(), wall: crate::protocol::TimestampMs::now() });
                msgs
            }
            _ = terminate.recv() => return Ok(()),
        };
        for effect in msgs.into_iter().flat_map(|msg| app.update(msg)) {
            if effect == Effect::Quit {
                return Ok(());
            }
            executor.run(effect);
        }
    }
}

/// The messages of the terminal events already read and waiting, taken before any frame is
/// drawn: the keys of one read then reach the Esc repair microseconds apart, however long a
/// frame takes (a key split by crossterm is only put back together within a few ms).
fn already_read(input: &mut EventStream, escapes: &mut EscapeRepair) -> anyhow::Result<Vec<Msg>> {
    let mut msgs = Vec::new();
    while let Some(event) = input.next().now_or_never() {
        match event {
            Some(Ok(event)) => msgs.extend(to_msgs(event, escapes)),
            Some(Err(error)) => return Err(error).context("cannot read the terminal"),
            None => break,
        }
    }
    Ok(msgs)
}

/// The messages one terminal event makes; keys go through the Esc repair first.
fn to_msgs(event: Event, escapes: &mut EscapeRepair) -> Vec<Msg> {
    let (keys, other) = match event {
        Event::Key(key) => (escapes.push(key, Instant::now()), None),
        Event::Mouse(mouse) => (escapes.flush(), Some(Msg::Mouse(mouse))),
        Event::Paste(text) => (escapes.flush(), Some(Msg::Paste(text))),
        Event::Resize(width, height) => (escapes.flush(), Some(Msg::Resize(width, height))),
        Event::FocusGained | Event::FocusLost => (Vec::new(), None),
    };
    keys.into_iter().map(Msg::Key).chain(other).collect()
}

#[cfg(unix)]
fn terminate_signal() -> anyhow::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch for SIGTERM")
}

/// Shows what to do when there is no config yet, until a key is pressed.
pub async fn first_run(config_path: &std::path::Path) -> anyhow::Result<()> {
    let theme = Theme::default();
    let mut guard = TerminalGuard::enter().context("cannot set up the terminal")?;
    let mut input = EventStream::new();
    loop {
        guard
            .terminal
            .draw(|frame| view::first_run::draw(frame, config_path, &theme))?;
        match input.next().await {
            Some(Ok(Event::Key(_))) | None => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error).context("cannot read the terminal"),
        }
    }
}
