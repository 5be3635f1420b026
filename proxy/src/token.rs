//! Signed task tokens: what a visitor gets instead of WaveSpeed's task id.
//!
//! A token is `v1.<task id>.<expiry>.<mac>`: the WaveSpeed id, the Unix second after
//! which it reads nothing (7 days, as long as WaveSpeed keeps the outputs), and an
//! HMAC-SHA256 over both, truncated to 128 bits and written in URL-safe base64. What a
//! task id is, and the token's shape, are [`multishot_rules::task_id`]'s — the very rule
//! the page takes tasks by, so every id WaveSpeed may give is signed and the page takes
//! every token. A poll
//! verifies the token and forwards the id it carries; so a visitor reads only tasks made
//! through this proxy, and a tampered or expired token reads nothing.
//!
//! The secret is shared by every instance (given, or derived from the API key), so any
//! instance verifies any token and a restart orphans no running task.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use multishot_rules::task_id::{self, is_task_id};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// How long a token reads its task: WaveSpeed keeps outputs for 7 days.
pub const LIFETIME_S: u64 = 7 * 86_400;
/// Bytes of the MAC kept in a token (128 bits: [`task_id::TOKEN_MAC_LEN`] characters).
const MAC_BYTES: usize = 16;
/// The shortest secret accepted from the operator.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why a token reads nothing. Every variant is answered the same way (404), so a caller
/// learns nothing about which check failed; the variants are for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not `v1.<id>.<expiry>.<mac>` with valid characters.
    #[error("not a token")]
    Malformed,
    /// The MAC does not match (tampered, or signed with another secret).
    #[error("bad signature")]
    BadSignature,
    /// Past its expiry.
    #[error("expired")]
    Expired,
}

/// Signs and verifies task tokens with one secret.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl std::fmt::Debug for Signer {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(…)")
    }
}

impl Signer {
    /// A signer with this secret (any length; the operator's is checked to be at least
    /// [`MIN_SECRET_BYTES`] where it is read).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC takes a key of any length.
        let mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        Self { mac }
    }

    /// The secret every instance derives from the same API key when the operator sets
    /// none: HMAC-SHA256(api key, label). Changing the key invalidates old tokens.
    pub fn derived_from_key(api_key: &str) -> Self {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(api_key.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(b"multishot-proxy task token secret v1");
        Self::new(&mac.finalize().into_bytes())
    }

    fn tag(&self, id: &str, expires_s: u64) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(b"v1|");
        mac.update(id.as_bytes());
        mac.update(b"|");
        mac.update(expires_s.to_string().as_bytes());
        mac.finalize().into_bytes()[..MAC_BYTES].to_vec()
    }

    /// A token for task `id` issued at `now_s`. `None` when `id` is not a task id
    /// ([`is_task_id`]).
    pub fn sign(&self, id: &str, now_s: u64) -> Option<String> {
        if !is_task_id(id) {
            return None;
        }
        let expires_s = now_s + LIFETIME_S;
        let mac = URL_SAFE_NO_PAD.encode(self.tag(id, expires_s));
        Some(task_id::token(id, expires_s, &mac))
    }

    /// A visitor's name for the logs: 16 hex digits keyed by this secret, the same for one
    /// visitor (`who`: their address or /64) on every instance sharing the secret, and no
    /// address in the log.
    pub fn visitor_tag(&self, who: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"visitor|");
        mac.update(who.as_bytes());
        mac.finalize().into_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The WaveSpeed id a token carries, when its MAC is right and it has not expired.
    pub fn verify(&self, token: &str, now_s: u64) -> Result<String, TokenError> {
        let task_id::TokenParts {
            id,
            expiry: expires,
            mac,
        } = task_id::token_parts(token).ok_or(TokenError::Malformed)?;
        let expires_s: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let given = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| TokenError::Malformed)?;
        if given.len() != MAC_BYTES {
            return Err(TokenError::Malformed);
        }
        // Constant-time comparison of the truncated MAC.
        let mut check = self.mac.clone();
        check.update(b"v1|");
        check.update(id.as_bytes());
        check.update(b"|");
        check.update(expires.as_bytes());
        check
            .verify_truncated_left(&given)
            .map_err(|_| TokenError::BadSignature)?;
        if now_s >= expires_s {
            return Err(TokenError::Expired);
        }
        Ok(id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "45a96667279e4a2f83cfe131566d4923";
    const NOW: u64 = 1_795_674_941;

    fn signer() -> Signer {
        Signer::new(b"0123456789abcdef0123456789abcdef")
    }

    /// What the page takes as a task (`TaskId::parse` is this rule).
    fn page_accepts(token: &str) -> bool {
        task_id::is_task_ref(token)
    }

    #[test]
    fn a_token_carries_its_id_for_seven_days() {
        let token = signer().sign(ID, NOW).expect("a WaveSpeed id");
        assert!(page_accepts(&token), "{token}");
        assert_eq!(signer().verify(&token, NOW), Ok(ID.to_owned()));
        assert_eq!(
            signer().verify(&token, NOW + LIFETIME_S - 1),
            Ok(ID.to_owned())
        );
        assert_eq!(
            signer().verify(&token, NOW + LIFETIME_S),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_visitor_is_named_in_the_logs_without_their_address() {
        let tag = signer().visitor_tag("203.0.113.7");
        assert_eq!(tag.len(), 16);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            tag,
            signer().visitor_tag("203.0.113.7"),
            "the same visitor, the same tag"
        );
        assert_ne!(tag, signer().visitor_tag("203.0.113.8"));
        assert_ne!(
            tag,
            Signer::new(b"another secret, long enough to be used").visitor_tag("203.0.113.7")
        );
        assert!(!tag.contains("203"));
    }

    #[test]
    fn another_secret_reads_nothing() {
        let token = signer().sign(ID, NOW).expect("a WaveSpeed id");
        let other = Signer::new(b"another secret, just as long....");
        assert_eq!(other.verify(&token, NOW), Err(TokenError::BadSignature));
        // Derived secrets: the same key gives the same secret on every instance.
        let a = Signer::derived_from_key("wsk_live_a").sign(ID, NOW);
        let a = a.expect("a WaveSpeed id");
        assert_eq!(
            Signer::derived_from_key("wsk_live_a").verify(&a, NOW),
            Ok(ID.to_owned())
        );
        assert_eq!(
            Signer::derived_from_key("wsk_live_b").verify(&a, NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampering_with_any_part_is_caught() {
        let token = signer().sign(ID, NOW).expect("a WaveSpeed id");
        let parts: Vec<&str> = token.split('.').collect();
        let other_id = "0000000000000000000000000000beef";
        let later = (NOW + 30 * 86_400).to_string();
        for forged in [
            format!("v1.{other_id}.{}.{}", parts[2], parts[3]),
            format!("v1.{}.{later}.{}", parts[1], parts[3]),
            format!("v1.{}.{}.{}", parts[1], parts[2], "A".repeat(22)),
        ] {
            assert_eq!(
                signer().verify(&forged, NOW),
                Err(TokenError::BadSignature),
                "{forged}"
            );
        }
        for malformed in [
            "",
            ID,
            "v2.x.1.AAAA",
            &format!("{token}.x"),
            &format!("v1.{ID}.{}", parts[2]),
            &format!("v1.../etc/passwd.{}.{}", parts[2], parts[3]),
            &format!("v1.{ID}.-1.{}", parts[3]),
            &format!("v1.{ID}.{}.{}", parts[2], &parts[3][..10]),
            &format!("v1.{ID}.{}.{}==", parts[2], parts[3]),
        ] {
            assert_eq!(
                signer().verify(malformed, NOW),
                Err(TokenError::Malformed),
                "{malformed}"
            );
        }
    }

    #[test]
    fn only_task_ids_are_signed() {
        assert!(signer().sign("../admin", NOW).is_none());
        assert!(signer().sign("", NOW).is_none());
        assert!(signer().sign("..", NOW).is_none());
        assert!(signer().sign("a/b", NOW).is_none());
        assert!(signer()
            .sign(&"a".repeat(task_id::MAX_ID_LEN + 1), NOW)
            .is_none());
    }

    #[test]
    fn any_id_the_page_takes_is_signed_and_read_back() {
        // Ids of another shape than today's 32 lowercase hex (the proxy refused these,
        // answering 502 "the run may have been made" with the budget kept reserved).
        for id in [
            "ABC",
            "Task_2026.12.07-0001",
            "a.b",
            &"a".repeat(task_id::MAX_ID_LEN),
        ] {
            let token = signer().sign(id, NOW).expect("signed");
            assert!(page_accepts(&token), "{token}");
            assert_eq!(signer().verify(&token, NOW), Ok(id.to_owned()), "{token}");
        }
    }

    proptest! {
        #[test]
        fn any_flipped_character_fails(index in 0usize..80, with in "[A-Za-z0-9._-]") {
            let token = signer().sign(ID, NOW).expect("a WaveSpeed id");
            let index = index % token.len();
            let mut forged = token.clone().into_bytes();
            forged[index] = with.as_bytes()[0];
            let forged = String::from_utf8(forged).expect("ASCII");
            prop_assume!(forged != token);
            prop_assert!(signer().verify(&forged, NOW).is_err());
        }

        #[test]
        fn random_text_never_verifies_or_panics(text in "[ -~]{0,120}") {
            prop_assert!(signer().verify(&text, NOW).is_err());
        }
    }
}
