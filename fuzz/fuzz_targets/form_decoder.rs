//! Fuzzes the form decoder: any bytes give a form or an error, never a panic, and a
//! decoded form stays within the limits.
#![no_main]

use comptoir_core::form::{Form, MAX_PAIRS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(form) = Form::parse(data) else {
        return;
    };
    // Everything the endpoints read must be reachable without panicking.
    for name in ["idboutique", "key", "payment", "paymentAmount", "itemsList", "client"] {
        let _ = form.get(name);
        let _ = form.map(name);
        let _ = form.map_get(name, "nom");
        assert!(form.list(name).len() <= MAX_PAIRS);
    }
    // The same pairs fed back through `from_pairs` decode to the same lists.
    let items = form.list("itemsList").to_vec();
    let again = Form::from_pairs(items.iter().map(|v| ("itemsList[]", v.clone())))
        .expect("no more pairs than the first decode");
    assert_eq!(again.list("itemsList"), items.as_slice());
});
