//! Caseless matching of names: the key under which a `userName` (and a group's `displayName`)
//! is unique per org and found by `eq` (RFC 7643 §4.1.1: `userName` is `caseExact: false` and
//! unique; §4.2 likewise for a group's `displayName`).
//!
//! The rule is Unicode's compatibility caseless match (Unicode §3.13, D146), plus two steps that
//! make names that look the same one name:
//!
//! 1. NFD, full case folding, NFKD, full case folding, NFKD (D146: `ß` and `ss`, `ς`, `σ` and
//!    `Σ`, the Kelvin sign and `k`, `ﬁ` and `fi`, full-width and ASCII letters are equal);
//! 2. removal of every `Default_Ignorable_Code_Point` (zero-width space, soft hyphen, joiners,
//!    variation selectors, bidi controls: they render as nothing);
//! 3. NFC, so keys are stored composed;
//! 4. removal of surrounding `White_Space` (a trailing space is a typing slip, not a new user).
//!
//! Case folding is the default, locale-free one (statuses C and F of `CaseFolding.txt`, not the
//! Turkic T): `I` folds to `i`, `İ` to `i` + U+0307, and the dotless `ı` stays itself, so
//! `ıd` and `id` are different names. Letters that only look alike (Cyrillic `а` and Latin `a`)
//! stay different: that is confusable detection (UTS #39), which a key must not do.
//!
//! Not RFC 8265 PRECIS `UsernameCaseMapped`: its `IdentifierClass` refuses spaces and many
//! symbols, while Okta and Entra send `userName`s that are display names with spaces; a key must
//! accept every name an IdP sends today.
//!
//! The fold, the normalizer and the property come from ICU4X, so all three follow one Unicode
//! version. A change of that version or of this rule changes keys: bump [`KEY_VERSION`], and the
//! store re-keys existing rows at the next start.

use icu_casemap::CaseMapper;
use icu_normalizer::{ComposingNormalizer, DecomposingNormalizer};
use icu_properties::CodePointSetData;
use icu_properties::props::DefaultIgnorableCodePoint;

/// The version of [`key`]: stored keys computed by an older version are recomputed at start.
/// Version 1 was NFKC + Unicode lower case + NFC (no folding of `ß`, `ς`, ignorables, spaces).
pub const KEY_VERSION: i64 = 2;

/// The caseless key of a name (see the module documentation for the rule).
pub fn key(name: &str) -> String {
    if name.is_ascii() {
        // ASCII is its own NFD, NFKD and NFC form, has no default-ignorable code point, and
        // folds as its lower case: the rule reduces to this, exactly (tested over all of ASCII).
        return name.trim().to_ascii_lowercase();
    }
    unicode_key(name)
}

/// [`key`] without the ASCII shortcut.
fn unicode_key(name: &str) -> String {
    let fold = CaseMapper::new();
    let nfd = DecomposingNormalizer::new_nfd();
    let nfkd = DecomposingNormalizer::new_nfkd();
    let nfc = ComposingNormalizer::new_nfc();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();

    let folded = fold.fold_string(&nfd.normalize(name)).into_owned();
    let folded = fold.fold_string(&nfkd.normalize(&folded)).into_owned();
    let visible: String = nfkd
        .normalize(&folded)
        .chars()
        .filter(|&c| !ignorable.contains(c))
        .collect();
    nfc.normalize(&visible).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::{key, unicode_key};

    /// Pairs that name one user.
    const SAME: &[(&str, &str, &str)] = &[
        ("sharp s", "straße", "strasse"),
        ("capital sharp s", "STRAẞE", "strasse"),
        ("final sigma", "ὈΔΥΣΣΕΎΣ", "ὀδυσσεύς"),
        ("final and medial sigma", "σας", "σασ"),
        ("capital sigma", "ΣΑΣ", "σας"),
        ("zero-width space", "ali\u{200B}ce", "alice"),
        ("soft hyphen", "ali\u{AD}ce", "alice"),
        ("zero-width joiner", "ali\u{200D}ce", "alice"),
        ("byte order mark", "\u{FEFF}alice", "alice"),
        ("variation selector", "alice\u{FE0F}", "alice"),
        ("trailing space", "alice ", "alice"),
        ("leading space", " alice", "alice"),
        ("surrounding tab and newline", "\talice\n", "alice"),
        ("no-break space", "alice\u{A0}", "alice"),
        ("ideographic space", "\u{3000}alice", "alice"),
        ("full-width letters", "ＡＬＩＣＥ", "alice"),
        ("fi ligature", "\u{FB01}ona", "fiona"),
        ("Kelvin sign", "\u{212A}elvin", "kelvin"),
        ("Angstrom sign", "\u{212B}sa", "\u{E5}sa"),
        ("decomposed accent", "e\u{301}mile", "\u{E9}mile"),
        ("upper-case accent", "ÉMILE", "émile"),
        ("ASCII case", "Alice@Example.COM", "alice@example.com"),
        ("Cherokee", "\u{13A0}", "\u{AB70}"),
    ];

    /// Pairs that stay two users.
    const DIFFERENT: &[(&str, &str, &str)] = &[
        ("dotless i is a letter of its own", "ıd", "id"),
        ("dotted capital I folds to i + combining dot", "İd", "id"),
        ("Cyrillic a looks like Latin a", "\u{430}lice", "alice"),
        ("inner space", "al ice", "alice"),
        ("inner spaces are not collapsed", "a  b", "a b"),
        ("accent", "émile", "emile"),
        ("digits differ", "user1", "user2"),
    ];

    #[test]
    fn confusable_pairs_that_are_one_name() {
        for (why, a, b) in SAME {
            assert_eq!(key(a), key(b), "{why}: {a:?} and {b:?}");
        }
    }

    #[test]
    fn pairs_that_stay_two_names() {
        for (why, a, b) in DIFFERENT {
            assert_ne!(key(a), key(b), "{why}: {a:?} and {b:?}");
        }
    }

    #[test]
    fn keys_are_stable_under_the_rule() {
        for (_, a, b) in SAME.iter().chain(DIFFERENT) {
            for s in [a, b] {
                assert_eq!(key(&key(s)), key(s), "{s:?}");
            }
        }
        assert_eq!(key("İ"), "i\u{307}");
        assert_eq!(key("STRAẞE"), "strasse");
        assert_eq!(key(" \u{200B} "), "");
    }

    #[test]
    fn the_key_of_a_key_is_itself_for_every_code_point_with_case_or_compatibility_forms() {
        // The planes that hold every cased letter and compatibility form (the whole range
        // passes too, in a few seconds), and the tag characters (default-ignorable).
        let unstable: Vec<String> = (0..0x2_0000_u32)
            .chain(0xE_0000..0xE_1000)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}"))
            .filter(|s| key(&key(s)) != key(s))
            .take(10)
            .collect();
        assert!(unstable.is_empty(), "{unstable:?}");
    }

    #[test]
    fn ascii_user_names_fold_as_the_unicode_rule_does() {
        let ascii: String = (0_u8..128).map(char::from).collect();
        assert_eq!(key(&ascii), unicode_key(&ascii));
        for c in (0_u8..128).map(char::from) {
            for s in [c.to_string(), format!("a{c}b"), format!("{c}x{c}")] {
                assert_eq!(key(&s), unicode_key(&s), "{s:?}");
            }
        }
    }
}
