//! Interactive verification of another device (SAS, with vodozemac's `sas`): both devices
//! agree on a short code (seven emoji, or three numbers) from a Diffie-Hellman exchange, the
//! two people compare it out of band (side by side, on a call), and each then sends a MAC of
//! its own identity keys under the shared secret, which the other checks against the keys it
//! pinned. A server in the middle would have to make both codes match, which the commitment
//! (the responder's key is committed to before the starter's is seen) leaves it one chance in
//! 2^42 of doing.
//!
//! A pure state machine: steps in, steps out. The steps travel sealed in the secret
//! conversation; whoever carries them does the I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vodozemac::sas::{EstablishedSas, Mac, Sas};

/// One step of a verification, as it travels (inside a sealed message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Start {
        txn: String,
    },
    /// The responder commits to its key before it sees the starter's.
    Accept {
        txn: String,
        commitment: String,
    },
    Key {
        txn: String,
        key: String,
    },
    /// The sender's identity keys, MACed under the shared secret once its user confirmed.
    Mac {
        txn: String,
        mac: String,
    },
    Cancel {
        txn: String,
        reason: String,
    },
}

impl Step {
    /// What the step says, as a line in the conversation (its sender's name before it).
    pub fn describe(&self) -> String {
        match self {
            Step::Start { .. } => "🔐 asked to verify our devices (/verify)".to_owned(),
            Step::Accept { .. } => "🔐 ready to compare codes".to_owned(),
            Step::Key { .. } => "🔐 sent a verification key".to_owned(),
            Step::Mac { .. } => "🔐 confirmed that the codes match".to_owned(),
            Step::Cancel { reason, .. } => format!("🔐 cancelled the verification: {reason}"),
        }
    }

    /// Whether the step is worth a line in the conversation: who asked, who confirmed, or why
    /// it stopped. The acceptance and the keys between are machinery that the other device
    /// sends by itself (three more lines, one of them in the voice of someone who did nothing).
    pub fn is_worth_a_line(&self) -> bool {
        !matches!(self, Step::Accept { .. } | Step::Key { .. })
    }

    pub fn txn(&self) -> &str {
        match self {
            Step::Start { txn }
            | Step::Accept { txn, .. }
            | Step::Key { txn, .. }
            | Step::Mac { txn, .. }
            | Step::Cancel { txn, .. } => txn,
        }
    }
}

/// A device taking part: whose it is and its identity keys (base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub username: String,
    pub device: String,
    pub ed25519: String,
}

/// What the two people compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortCode {
    /// Seven (emoji, name) pairs.
    pub emoji: Vec<(&'static str, &'static str)>,
    pub decimals: (u16, u16, u16),
}

impl ShortCode {
    /// "🐶 Dog  🔑 Key  …".
    pub fn emoji_line(&self) -> String {
        self.emoji
            .iter()
            .map(|(emoji, name)| format!("{emoji} {name}"))
            .collect::<Vec<_>>()
            .join("  ")
    }

    pub fn decimals_line(&self) -> String {
        let (a, b, c) = self.decimals;
        format!("{a} {b} {c}")
    }
}

/// What a step asks of whoever carries the verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send these steps to the other device.
    Send(Vec<Step>),
    /// Show the short code and ask whether it matches the other screen (and send `Step`).
    Compare(ShortCode, Option<Step>),
    /// The other device is who its keys say: mark it verified (and send these steps).
    Verified(Vec<Step>),
    /// Nothing to do yet.
    Wait,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("verification {txn}: {what}; it is cancelled")]
    Failed { txn: String, what: String },
    #[error("verification {0}: the other side cancelled it: {1}")]
    Cancelled(String, String),
    #[error("verification {0}: that step does not belong here")]
    OutOfOrder(String),
}

enum State {
    /// The starter waits for the responder's commitment.
    AwaitAccept(Sas),
    /// The responder waits for the starter's key.
    AwaitStarterKey(Sas, String),
    /// The starter sent its key and waits for the responder's, which must match the commitment.
    AwaitResponderKey(Sas, String),
    /// The short code is shown; waiting for this user's word and the other's MAC.
    Comparing {
        sas: Box<EstablishedSas>,
        confirmed: bool,
        their_mac: Option<String>,
    },
    Done,
}

pub struct Verification {
    txn: String,
    me: Party,
    /// The other device; for the starter, the first of the other person's devices to answer.
    them: Option<Party>,
    starter: bool,
    state: State,
}

impl Verification {
    /// Starts a verification with the other person; the step goes to each of their devices,
    /// and the first to answer is the one verified.
    pub fn start(me: Party) -> (Verification, Step) {
        let txn = uuid::Uuid::new_v4().simple().to_string();
        let step = Step::Start { txn: txn.clone() };
        let verification = Verification {
            txn,
            me,
            them: None,
            starter: true,
            state: State::AwaitAccept(Sas::new()),
        };
        (verification, step)
    }

    /// Answers `them`'s start with a commitment to this side's key.
    pub fn respond(me: Party, them: Party, txn: &str) -> (Verification, Step) {
        let sas = Sas::new();
        let key = sas.public_key().to_base64();
        let step = Step::Accept {
            txn: txn.to_owned(),
            commitment: commitment(&key, txn),
        };
        let verification = Verification {
            txn: txn.to_owned(),
            me,
            them: Some(them),
            starter: false,
            state: State::AwaitStarterKey(sas, key),
        };
        (verification, step)
    }

    pub fn txn(&self) -> &str {
        &self.txn
    }

    /// The device being verified, once one answered.
    pub fn them(&self) -> Option<&Party> {
        self.them.as_ref()
    }

    /// Takes the next step of device `from`. Steps of the other person's other devices (which
    /// also got the start) are ignored.
    pub fn on_step(&mut self, step: Step, from: &Party) -> Result<Outcome, VerifyError> {
        if step.txn() != self.txn {
            return Err(VerifyError::OutOfOrder(step.txn().to_owned()));
        }
        match &self.them {
            Some(them) if them.device != from.device => return Ok(Outcome::Wait),
            Some(_) => {}
            None => self.them = Some(from.clone()),
        }
        if let Step::Cancel { reason, .. } = step {
            self.state = State::Done;
            return Err(VerifyError::Cancelled(self.txn.clone(), reason));
        }
        let state = std::mem::replace(&mut self.state, State::Done);
        match (state, step) {
            (State::AwaitAccept(sas), Step::Accept { commitment, .. }) => {
                let key = sas.public_key().to_base64();
                self.state = State::AwaitResponderKey(sas, commitment);
                Ok(Outcome::Send(vec![Step::Key {
                    txn: self.txn.clone(),
                    key,
                }]))
            }
            (State::AwaitStarterKey(sas, mine), Step::Key { key, .. }) => {
                let code = self.establish(sas, &key)?;
                let reply = Step::Key {
                    txn: self.txn.clone(),
                    key: mine,
                };
                Ok(Outcome::Compare(code, Some(reply)))
            }
            (State::AwaitResponderKey(sas, committed), Step::Key { key, .. }) => {
                if commitment(&key, &self.txn) != committed {
                    return Err(self.failed("the other key does not match its commitment"));
                }
                let code = self.establish(sas, &key)?;
                Ok(Outcome::Compare(code, None))
            }
            (
                State::Comparing {
                    sas,
                    confirmed,
                    their_mac: None,
                },
                Step::Mac { mac, .. },
            ) => {
                if !confirmed {
                    self.state = State::Comparing {
                        sas,
                        confirmed,
                        their_mac: Some(mac),
                    };
                    return Ok(Outcome::Wait);
                }
                self.check_mac(&sas, &mac)?;
                Ok(Outcome::Verified(Vec::new()))
            }
            (_, step) => Err(self.failed(&format!("unexpected {step:?}"))),
        }
    }

    /// This user says the codes match: the MAC of this device's keys goes out, and if the
    /// other's has come, it is checked.
    pub fn confirm(&mut self) -> Result<Outcome, VerifyError> {
        let State::Comparing { sas, their_mac, .. } =
            std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(self.failed("there is no code to confirm yet"));
        };
        let Some(them) = self.them.clone() else {
            return Err(self.failed("no device answered yet"));
        };
        let mac = Step::Mac {
            txn: self.txn.clone(),
            mac: sas
                .calculate_mac(&identity(&self.me), &self.mac_info(&self.me, &them))
                .to_base64(),
        };
        match their_mac {
            Some(theirs) => {
                self.check_mac(&sas, &theirs)?;
                Ok(Outcome::Verified(vec![mac]))
            }
            None => {
                self.state = State::Comparing {
                    sas,
                    confirmed: true,
                    their_mac: None,
                };
                Ok(Outcome::Send(vec![mac]))
            }
        }
    }

    /// This user says the codes differ (or gives up): the step tells the other side.
    pub fn cancel(&mut self, reason: &str) -> Step {
        self.state = State::Done;
        Step::Cancel {
            txn: self.txn.clone(),
            reason: reason.to_owned(),
        }
    }

    fn establish(&mut self, sas: Sas, their_key: &str) -> Result<ShortCode, VerifyError> {
        let mine = sas.public_key().to_base64();
        let sas = sas
            .diffie_hellman_with_raw(their_key)
            .map_err(|e| self.failed(&format!("the other key is unusable: {e}")))?;
        let Some(them) = self.them.clone() else {
            return Err(self.failed("no device answered yet"));
        };
        let (starter, responder, starter_key, responder_key) = match self.starter {
            true => (&self.me, &them, mine.as_str(), their_key),
            false => (&them, &self.me, their_key, mine.as_str()),
        };
        let info = format!(
            "QUID_SAS|{}|{}|{}|{starter_key}|{}|{}|{responder_key}",
            self.txn, starter.username, starter.device, responder.username, responder.device
        );
        let bytes = sas.bytes(&info);
        let code = ShortCode {
            emoji: bytes
                .emoji_indices()
                .iter()
                .map(|&i| EMOJI[usize::from(i) % EMOJI.len()])
                .collect(),
            decimals: bytes.decimals(),
        };
        self.state = State::Comparing {
            sas: Box::new(sas),
            confirmed: false,
            their_mac: None,
        };
        Ok(code)
    }

    fn check_mac(&mut self, sas: &EstablishedSas, mac: &str) -> Result<(), VerifyError> {
        let mac = Mac::from_base64(mac).map_err(|_| self.failed("the other MAC is not base64"))?;
        let Some(them) = self.them.clone() else {
            return Err(self.failed("no device answered yet"));
        };
        sas.verify_mac(&identity(&them), &self.mac_info(&them, &self.me), &mac)
            .map_err(|_| self.failed("the other device's keys are not the ones pinned here"))?;
        self.state = State::Done;
        Ok(())
    }

    fn mac_info(&self, from: &Party, to: &Party) -> String {
        format!(
            "QUID_MAC|{}|{}|{}|{}|{}",
            self.txn, from.username, from.device, to.username, to.device
        )
    }

    fn failed(&mut self, what: &str) -> VerifyError {
        self.state = State::Done;
        VerifyError::Failed {
            txn: self.txn.clone(),
            what: what.to_owned(),
        }
    }
}

/// What a device's MAC covers: both its identity keys.
fn identity(party: &Party) -> String {
    format!("{}|{}", party.device, party.ed25519)
}

fn commitment(key: &str, txn: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(key.as_bytes());
    hash.update(b"|");
    hash.update(txn.as_bytes());
    BASE64.encode(hash.finalize())
}

/// The 64 emoji a short code is written in, each with the name people read aloud.
const EMOJI: [(&str, &str); 64] = [
    ("🐶", "Dog"),
    ("🐱", "Cat"),
    ("🦁", "Lion"),
    ("🐎", "Horse"),
    ("🦄", "Unicorn"),
    ("🐷", "Pig"),
    ("🐘", "Elephant"),
    ("🐰", "Rabbit"),
    ("🐼", "Panda"),
    ("🐓", "Rooster"),
    ("🐧", "Penguin"),
    ("🐢", "Turtle"),
    ("🐟", "Fish"),
    ("🐙", "Octopus"),
    ("🦋", "Butterfly"),
    ("🌷", "Flower"),
    ("🌳", "Tree"),
    ("🌵", "Cactus"),
    ("🍄", "Mushroom"),
    ("🌏", "Globe"),
    ("🌙", "Moon"),
    ("☁️", "Cloud"),
    ("🔥", "Fire"),
    ("🍌", "Banana"),
    ("🍎", "Apple"),
    ("🍓", "Strawberry"),
    ("🌽", "Corn"),
    ("🍕", "Pizza"),
    ("🎂", "Cake"),
    ("❤️", "Heart"),
    ("😀", "Smiley"),
    ("🤖", "Robot"),
    ("🎩", "Hat"),
    ("👓", "Glasses"),
    ("🔧", "Spanner"),
    ("🎅", "Santa"),
    ("👍", "Thumbs Up"),
    ("☂️", "Umbrella"),
    ("⌛", "Hourglass"),
    ("⏰", "Clock"),
    ("🎁", "Gift"),
    ("💡", "Light Bulb"),
    ("📕", "Book"),
    ("✏️", "Pencil"),
    ("📎", "Paperclip"),
    ("✂️", "Scissors"),
    ("🔒", "Lock"),
    ("🔑", "Key"),
    ("🔨", "Hammer"),
    ("☎️", "Telephone"),
    ("🏁", "Flag"),
    ("🚂", "Train"),
    ("🚲", "Bicycle"),
    ("✈️", "Aeroplane"),
    ("🚀", "Rocket"),
    ("🏆", "Trophy"),
    ("⚽", "Ball"),
    ("🎸", "Guitar"),
    ("🎺", "Trumpet"),
    ("🔔", "Bell"),
    ("⚓", "Anchor"),
    ("🎧", "Headphones"),
    ("📁", "Folder"),
    ("📌", "Pin"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn party(username: &str, device: &str) -> Party {
        Party {
            username: username.into(),
            device: device.into(),
            ed25519: format!("{device}-signing"),
        }
    }

    fn alice() -> Party {
        party("alice", "A")
    }

    fn bob() -> Party {
        party("bob", "B")
    }

    /// Runs a verification up to both short codes; returns both sides and the codes.
    fn to_compare() -> (Verification, Verification, ShortCode, ShortCode) {
        let (mut a, start) = Verification::start(alice());
        let (mut b, accept) = Verification::respond(bob(), alice(), start.txn());
        let Outcome::Send(mut steps) = a.on_step(accept, &bob()).unwrap() else {
            panic!("alice sends her key");
        };
        let Outcome::Compare(b_code, Some(b_key)) = b.on_step(steps.remove(0), &alice()).unwrap()
        else {
            panic!("bob compares and sends his key");
        };
        let Outcome::Compare(a_code, None) = a.on_step(b_key, &bob()).unwrap() else {
            panic!("alice compares");
        };
        (a, b, a_code, b_code)
    }

    fn sent(outcome: Outcome) -> Vec<Step> {
        match outcome {
            Outcome::Send(steps) => steps,
            other => panic!("expected steps to send, got {other:?}"),
        }
    }

    #[test]
    fn both_sides_see_the_same_code_and_verify_each_other() {
        let (mut a, mut b, a_code, b_code) = to_compare();
        assert_eq!(a_code, b_code);
        assert_eq!(a_code.emoji.len(), 7);
        // Bob confirms first; alice gets his MAC before she confirms, then verifies at once.
        let mut b_mac = sent(b.confirm().unwrap());
        assert_eq!(a.on_step(b_mac.remove(0), &bob()).unwrap(), Outcome::Wait);
        let Outcome::Verified(mut a_mac) = a.confirm().unwrap() else {
            panic!("alice verifies bob");
        };
        assert_eq!(
            b.on_step(a_mac.remove(0), &alice()).unwrap(),
            Outcome::Verified(vec![])
        );
    }

    #[test]
    fn only_the_steps_a_person_took_are_lines_in_the_conversation() {
        let (mut a, start) = Verification::start(alice());
        let (_, accept) = Verification::respond(bob(), alice(), start.txn());
        let key = sent(a.on_step(accept.clone(), &bob()).unwrap()).remove(0);
        let shown: Vec<bool> = [&start, &accept, &key]
            .iter()
            .map(|step| step.is_worth_a_line())
            .collect();
        assert_eq!(
            shown,
            [true, false, false],
            "asked: yes; accept and keys: machinery"
        );
        let cancel = a.cancel("the emoji did not match");
        assert!(cancel.is_worth_a_line());
    }

    #[test]
    fn a_responder_key_that_breaks_its_commitment_is_refused() {
        let (mut a, start) = Verification::start(alice());
        let (_, accept) = Verification::respond(bob(), alice(), start.txn());
        sent(a.on_step(accept, &bob()).unwrap());
        // A man in the middle answers with a key of its own choosing, after seeing alice's.
        let forged = Step::Key {
            txn: start.txn().to_owned(),
            key: Sas::new().public_key().to_base64(),
        };
        // Another of bob's devices cannot step in either: its steps are ignored.
        assert_eq!(
            a.on_step(forged.clone(), &party("bob", "B2")).unwrap(),
            Outcome::Wait
        );
        let error = a.on_step(forged, &bob()).unwrap_err().to_string();
        assert!(error.contains("does not match its commitment"), "{error}");
    }

    #[test]
    fn keys_other_than_the_pinned_ones_fail_the_mac() {
        let (mut a, mut b, _, _) = to_compare();
        // Alice has pinned a different signing key for bob than bob's own device holds.
        if let Some(them) = a.them.as_mut() {
            them.ed25519 = "someone-else".into();
        }
        let mut b_mac = sent(b.confirm().unwrap());
        sent(a.confirm().unwrap());
        let error = a.on_step(b_mac.remove(0), &bob()).unwrap_err().to_string();
        assert!(error.contains("not the ones pinned here"), "{error}");
    }

    #[test]
    fn a_cancel_or_a_stray_step_ends_it() {
        let (mut a, mut b, _, _) = to_compare();
        let cancel = b.cancel("the emoji did not match");
        let error = a.on_step(cancel, &bob()).unwrap_err().to_string();
        assert!(error.contains("the emoji did not match"), "{error}");
        let (mut a, start) = Verification::start(alice());
        let stray = Step::Mac {
            txn: start.txn().to_owned(),
            mac: "AAAA".into(),
        };
        assert!(a.on_step(stray, &bob()).is_err());
        let other = Step::Start { txn: "x".into() };
        assert!(matches!(
            a.on_step(other, &bob()),
            Err(VerifyError::OutOfOrder(_))
        ));
    }
}
