//! Files from the command line: `quid send --file`, `quid history` showing them, and
//! `quid download`, which never replaces a file.

use super::cli::{alice_and_bob, as_bob, failed, ok};
use crate::common::process::quid;

#[test]
fn a_file_goes_from_one_profile_to_another_and_is_saved_without_replacing_anything() {
    let (dir, _server, config) = alice_and_bob();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "the bill: 42.50\n").unwrap();
    let path = notes.to_string_lossy().into_owned();
    let sent = ok(quid(
        &config,
        &["send", "@bob", "--file", &path, "for the split"],
        "",
    ));
    assert!(
        sent.starts_with("sent [file: notes.txt, 16 B] to @bob"),
        "{sent}"
    );

    let history = ok(quid(&config, &as_bob(&["history", "@alice"]), ""));
    assert!(
        history.contains("alice: [file: notes.txt, 16 B] for the split"),
        "{history}"
    );
    let json = ok(quid(&config, &as_bob(&["history", "@alice", "--json"]), ""));
    let page: serde_json::Value = serde_json::from_str(&json).unwrap();
    let message = &page["messages"][0];
    assert_eq!(message["file"]["name"], "notes.txt");
    assert_eq!(message["file"]["size"], 16);
    let id = message["id"].as_i64().unwrap().to_string();

    let into = dir.path().join("downloads");
    std::fs::create_dir(&into).unwrap();
    let into_text = into.to_string_lossy().into_owned();
    for expected in ["notes.txt", "notes (1).txt"] {
        let saved = ok(quid(
            &config,
            &as_bob(&["download", &id, "-o", &into_text]),
            "",
        ));
        assert!(saved.contains(expected), "{saved}");
        let kept = std::fs::read_to_string(into.join(expected)).unwrap();
        assert_eq!(kept, "the bill: 42.50\n");
    }
    // A file named with -o is never replaced.
    let taken = into.join("notes.txt").to_string_lossy().into_owned();
    let refused = failed(quid(&config, &as_bob(&["download", &id, "-o", &taken]), ""));
    assert!(
        refused.contains("exists; quid does not replace it"),
        "{refused}"
    );
    // A path that is not a file is refused before anything is sent.
    let missing = dir.path().join("nope.jpg").to_string_lossy().into_owned();
    let refused = failed(quid(&config, &["send", "@bob", "--file", &missing], ""));
    assert!(
        refused.contains("cannot send") && refused.contains("nope.jpg"),
        "{refused}"
    );
    // A message without a file says so.
    ok(quid(&config, &["send", "@bob", "just words"], ""));
    let history = ok(quid(&config, &as_bob(&["history", "@alice", "--json"]), ""));
    let page: serde_json::Value = serde_json::from_str(&history).unwrap();
    let words = page["messages"][1]["id"].as_i64().unwrap().to_string();
    let refused = failed(quid(&config, &as_bob(&["download", &words]), ""));
    assert!(refused.contains("carries no file"), "{refused}");
}
