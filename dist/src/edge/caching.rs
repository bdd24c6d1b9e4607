//! `Cache-Control` for content's bytes (RFC 9111).
//!
//! `Content.uri` names one version (`…/data?v={version}`): its bytes never
//! change, so every cache may keep them for a year. The unversioned URL
//! follows the object through its versions: caches keep it briefly and
//! then ask again with its validators. A `v` that is not the current
//! version (an old link, or one to a version this distributor does not see
//! yet) is answered with the current bytes, which no cache may keep
//! without asking again, so they are never held under a name that promised
//! other bytes. Private bytes are kept by no shared cache; read with a
//! token, by no cache at all.

use std::time::Duration;

/// A year: what RFC 9111 calls "never expires" in practice.
pub const IMMUTABLE_MAX_AGE: u64 = 31_536_000;

/// Which URL the bytes were asked by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinning {
    /// `?v=` the current version.
    Current,
    /// No `?v=`: whatever version is current.
    Unpinned,
    /// `?v=` anything else.
    Other,
}

impl Pinning {
    /// Compares the `v` query parameter, if any, with the current version.
    pub fn of(asked: Option<&str>, current: u32) -> Self {
        match asked {
            None => Pinning::Unpinned,
            Some(text) if text.parse::<u32>() == Ok(current) => Pinning::Current,
            Some(_) => Pinning::Other,
        }
    }
}

/// Who the bytes were served to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Anyone: public content.
    Everyone,
    /// A caller with a token that may read private content.
    Token,
    /// Whoever holds a presigned link that works this many seconds more.
    Link { seconds_left: u64 },
}

/// The `Cache-Control` of an answer with content's bytes (or of its
/// `304`); `unpinned_max_age` is `CACHE_MAX_AGE`.
pub fn cache_control(pinning: Pinning, audience: Audience, unpinned_max_age: Duration) -> String {
    let unpinned = unpinned_max_age.as_secs();
    let scope = match audience {
        Audience::Everyone => "public",
        // A token is a credential of its own: nothing may keep the bytes,
        // or the next user of the browser could read them without one.
        Audience::Token => return "private, no-store".to_owned(),
        Audience::Link { .. } => "private",
    };
    // A link's copy must not outlive the link.
    let cap = match audience {
        Audience::Link { seconds_left } => seconds_left,
        _ => u64::MAX,
    };
    match pinning {
        Pinning::Current => format!("{scope}, max-age={}, immutable", IMMUTABLE_MAX_AGE.min(cap)),
        Pinning::Unpinned => format!("{scope}, max-age={}, must-revalidate", unpinned.min(cap)),
        Pinning::Other => format!("{scope}, no-cache"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn the_version_in_the_url_decides_how_long_public_bytes_are_kept() {
        assert_eq!(Pinning::of(Some("3"), 3), Pinning::Current);
        assert_eq!(Pinning::of(None, 3), Pinning::Unpinned);
        for other in ["2", "4", "03x", "", "-1", "99999999999"] {
            assert_eq!(Pinning::of(Some(other), 3), Pinning::Other, "{other:?}");
        }
        let public = |pinning| cache_control(pinning, Audience::Everyone, MINUTE);
        assert_eq!(
            public(Pinning::Current),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            public(Pinning::Unpinned),
            "public, max-age=60, must-revalidate"
        );
        assert_eq!(public(Pinning::Other), "public, no-cache");
        assert_eq!(
            cache_control(Pinning::Unpinned, Audience::Everyone, Duration::ZERO),
            "public, max-age=0, must-revalidate"
        );
    }

    #[test]
    fn private_bytes_are_kept_only_as_long_as_a_link_works() {
        for pinning in [Pinning::Current, Pinning::Unpinned, Pinning::Other] {
            assert_eq!(
                cache_control(pinning, Audience::Token, MINUTE),
                "private, no-store"
            );
        }
        let link =
            |pinning, seconds_left| cache_control(pinning, Audience::Link { seconds_left }, MINUTE);
        assert_eq!(
            link(Pinning::Current, 3600),
            "private, max-age=3600, immutable"
        );
        assert_eq!(
            link(Pinning::Unpinned, 3600),
            "private, max-age=60, must-revalidate"
        );
        assert_eq!(
            link(Pinning::Unpinned, 10),
            "private, max-age=10, must-revalidate"
        );
        assert_eq!(link(Pinning::Other, 3600), "private, no-cache");
    }
}
