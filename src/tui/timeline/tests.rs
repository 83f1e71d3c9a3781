use super::*;

fn entry(id: Option<i64>, client: ClientMsgId, text: &str) -> Entry {
    Entry {
        id: id.map(MessageId),
        client_id: client,
        sender: "alice".into(),
        text: text.into(),
        sent_at: TimestampMs(0),
        mine: true,
        card: None,
        reply: None,
        edited: false,
        deleted: false,
        reactions: Vec::new(),
        mentions_me: false,
        unreadable: None,
        expires_at: None,
        file: None,
    }
}

/// A payment card whose memo is sealed as the message the reference names.
fn card_with_sealed_memo(id: i64) -> (Entry, ClientMsgId) {
    let reference = crate::protocol::payments::sealed_memo_reference(
        &crate::protocol::payments::IdempotencyKey::random(),
    );
    let memo = crate::protocol::payments::sealed_memo_client_id(&reference).unwrap();
    let mut card = entry(Some(id), ClientMsgId::random(), "paid");
    card.card = Some(CardView::Payment {
        from: "alice".into(),
        to: "bob".into(),
        amount: crate::tui::state::tests::money::eur(500),
        memo: readable_memo(&reference).to_owned(),
        sealed_memo: Some(memo),
    });
    (card, memo)
}

fn memo_of(timeline: &Timeline, id: i64) -> &str {
    match &timeline.find(MessageId(id)).unwrap().card {
        Some(CardView::Payment { memo, .. }) => memo,
        other => panic!("not a payment card: {other:?}"),
    }
}

#[test]
fn a_card_says_its_memo_expired_once_the_message_that_sealed_it_is_gone() {
    let mut timeline = Timeline::default();
    let (card, memo) = card_with_sealed_memo(1);
    timeline.insert(card);
    let mut sealed = entry(Some(2), memo, "memo: lunch");
    sealed.expires_at = Some(TimestampMs(10_000));
    timeline.insert(sealed);
    let mut other = entry(Some(3), ClientMsgId::random(), "see you");
    other.expires_at = Some(TimestampMs(10_000));
    timeline.insert(other);

    assert!(!timeline.expire(TimestampMs(9_999)));
    assert_eq!(memo_of(&timeline, 1), "🔒 memo sealed in the conversation");
    assert!(timeline.expire(TimestampMs(10_000)));
    assert_eq!(timeline.entries.len(), 1, "what expired leaves no line");
    assert_eq!(memo_of(&timeline, 1), "🔒 memo expired");

    // Read again (history after a restart), the card still says so; another card
    // whose memo is elsewhere does not.
    let (mut again, _) = card_with_sealed_memo(1);
    if let Some(CardView::Payment { sealed_memo, .. }) = &mut again.card {
        *sealed_memo = Some(memo);
    }
    let (unrelated, _) = card_with_sealed_memo(4);
    timeline.merge_page(vec![again, unrelated], false, true);
    assert_eq!(memo_of(&timeline, 1), "🔒 memo expired");
    assert_eq!(memo_of(&timeline, 4), "🔒 memo sealed in the conversation");
}

#[test]
fn confirmed_messages_stay_ordered_and_replace_their_queued_copy() {
    let mut timeline = Timeline::default();
    let queued = ClientMsgId::random();
    timeline.add_queued(entry(None, queued, "pending"));
    timeline.insert(entry(Some(5), ClientMsgId::random(), "five"));
    timeline.insert(entry(Some(3), ClientMsgId::random(), "three"));
    timeline.insert(entry(Some(5), ClientMsgId::random(), "five again"));
    let texts: Vec<_> = timeline.entries.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["three", "five", "pending"]);
    assert_eq!(timeline.queued_count(), 1);

    timeline.insert(entry(Some(7), queued, "pending"));
    assert_eq!(timeline.queued_count(), 0);
    assert_eq!(timeline.last_id(), Some(MessageId(7)));
    timeline.read_by_others = Some(MessageId(5));
    assert_eq!(timeline.delivery(&timeline.entries[1]), Delivery::Read);
    assert_eq!(timeline.delivery(&timeline.entries[2]), Delivery::Sent);
}

#[test]
fn a_page_merges_in_order_once_and_confirms_a_queued_message() {
    let mut timeline = Timeline::default();
    for id in [1, 3, 5] {
        timeline.insert(entry(Some(id), ClientMsgId::random(), &id.to_string()));
    }
    let queued = ClientMsgId::random();
    timeline.add_queued(entry(None, queued, "pending"));
    let page = vec![
        entry(Some(4), ClientMsgId::random(), "4"),
        entry(Some(2), ClientMsgId::random(), "2"),
        entry(Some(3), ClientMsgId::random(), "3 again"),
        entry(Some(6), queued, "6"),
    ];
    timeline.merge_page(page, false, true);
    let texts: Vec<_> = timeline.entries.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(timeline.queued_count(), 0);
}
