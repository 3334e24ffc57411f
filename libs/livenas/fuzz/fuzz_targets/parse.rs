#![no_main]
//! Any byte string, as a message from the network: parse it, decode every patch it carries,
//! and re-encode what parsed; nothing may panic and a re-encoded message must parse again.
use libfuzzer_sys::fuzz_target;
use lv_livenas::wire::*;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match parse(data, &limits) {
        Ok(Message::Patches(batch)) => {
            for p in &batch.patches {
                if let Ok(px) = decode_patch_luma(batch.codec, p.payload, batch.patch_size) {
                    assert_eq!(px.len(), batch.patch_size as usize * batch.patch_size as usize);
                }
            }
            let again = encode_patches(&batch, &limits).expect("a parsed batch re-encodes");
            assert_eq!(parse(&again, &limits).unwrap(), Message::Patches(batch));
        }
        Ok(Message::Feedback(fb)) => {
            assert_eq!(parse(&encode_feedback(&fb), &limits).unwrap(), Message::Feedback(fb));
        }
        Err(_) => {}
    }
});
