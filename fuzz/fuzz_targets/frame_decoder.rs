//! The frame decoder takes any bytes a peer sends as a text frame: it answers with a request
//! or an error naming what was wrong, never a panic; a request it accepts re-encodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quid::protocol::Request;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // The websocket layer refuses text frames that are not UTF-8 (1007).
    };
    match Request::parse(text) {
        Ok(request) => {
            let again = serde_json::to_string(&request).expect("a request encodes");
            assert_eq!(Request::parse(&again).ok(), Some(request));
        }
        Err(bad) => assert!(!bad.error.message.is_empty()),
    }
});
