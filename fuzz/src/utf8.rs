//! The utf8 fuzz target: differential test of the streaming validator against
//! `std::str::from_utf8`.
//!
//! Input layout: `[n] [n cut bytes] [text...]`; cut byte v advances the cut position by v
//! (0 = an empty chunk). After the cuts, the rest of the text is one chunk.
//!
//! Checked: at every chunk boundary `feed` succeeds exactly when the prefix fed so far can still
//! be completed to valid UTF-8 (no invalid sequence yet), and after the last chunk `finish`
//! succeeds exactly when `from_utf8` accepts the whole input; `validate` agrees; an error leaves
//! the validator unchanged.
use websocket::utf8::Utf8Validator;

fn prefix_ok(b: &[u8]) -> bool {
    match std::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// Runs one fuzz input (see the module documentation for its layout).
pub fn run_input(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = (n as usize).min(rest.len());
    let (cuts, text) = rest.split_at(n);
    let whole = std::str::from_utf8(text).is_ok();

    assert_eq!(Utf8Validator::validate(text).is_ok(), whole, "validate({text:x?})");

    let mut v = Utf8Validator::new();
    let mut at = 0usize;
    let mut failed = false;
    let chunks = cuts.iter().map(|c| *c as usize).chain(std::iter::once(usize::MAX));
    for step in chunks {
        let end = at.saturating_add(step).min(text.len());
        let before = v;
        let ok = v.feed(&text[at..end]).is_ok();
        assert_eq!(ok, prefix_ok(&text[..end]), "feed up to {end} of {text:x?} (cuts {cuts:?})");
        if !ok {
            assert_eq!(v, before, "a failed feed changed the validator");
            failed = true;
            break;
        }
        at = end;
        if at == text.len() && step == usize::MAX {
            break;
        }
    }
    if !failed {
        assert_eq!(v.finish().is_ok(), whole, "finish of {text:x?} (cuts {cuts:?})");
        assert_eq!(v, Utf8Validator::new(), "finish must reset the validator");
    } else {
        assert!(!whole);
    }
}
