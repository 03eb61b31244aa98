//! The fMP4 reader on hand-built boxes (written here, not captured) and on
//! arbitrary bytes (proptest: never a panic).

use onelive_stream::StreamError;
use onelive_stream::fmp4::Fmp4Span;
use proptest::prelude::*;

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

fn full(version: u8, flags: u32, rest: &[u8]) -> Vec<u8> {
    let mut b = vec![version];
    b.extend_from_slice(&flags.to_be_bytes()[1..]);
    b.extend_from_slice(rest);
    b
}

/// An init section with one track `id` at `timescale`.
fn init(id: u32, timescale: u32) -> Vec<u8> {
    let mut tkhd = vec![0u8; 8];
    tkhd.extend_from_slice(&id.to_be_bytes());
    tkhd.extend_from_slice(&[0u8; 68]);
    let mut mdhd = vec![0u8; 8];
    mdhd.extend_from_slice(&timescale.to_be_bytes());
    mdhd.extend_from_slice(&[0u8; 8]);
    let mdia = boxed(b"mdia", &boxed(b"mdhd", &full(0, 0, &mdhd)));
    let trak = boxed(b"trak", &[boxed(b"tkhd", &full(0, 3, &tkhd)), mdia].concat());
    [boxed(b"ftyp", b"iso6\0\0\0\0"), boxed(b"moov", &trak)].concat()
}

/// A fragment of `n` samples of `dur` each, decode time `tfdt` (64-bit).
fn fragment(id: u32, tfdt: u64, n: u32, dur: u32) -> Vec<u8> {
    let tfhd = boxed(b"tfhd", &full(0, 0x02_0008, &[id.to_be_bytes(), dur.to_be_bytes()].concat()));
    let tfdt = boxed(b"tfdt", &full(1, 0, &tfdt.to_be_bytes()));
    let trun = boxed(b"trun", &full(0, 0, &n.to_be_bytes()));
    let moof = boxed(b"moof", &boxed(b"traf", &[tfhd, tfdt, trun].concat()));
    [boxed(b"styp", b"msdh\0\0\0\0"), moof, boxed(b"mdat", &[0u8; 16])].concat()
}

fn tfdt_of(segment: &[u8]) -> u64 {
    let at = segment.windows(4).position(|w| w == b"tfdt").unwrap() + 8;
    u64::from_be_bytes(segment[at..at + 8].try_into().unwrap())
}

#[test]
fn a_part_is_rebased_to_zero_and_timed_from_its_samples() {
    let mut span = Fmp4Span::from_init(&init(1, 90_000)).unwrap();
    let mut a = fragment(1, 900_000, 25, 3600);
    let mut b = fragment(1, 990_000, 25, 3600);
    assert!(Fmp4Span::looks_like_fmp4(&a));
    span.push(&mut a).unwrap();
    span.push(&mut b).unwrap();
    assert_eq!((tfdt_of(&a), tfdt_of(&b)), (0, 90_000));
    assert!((span.duration() - 2.0).abs() < 1e-9, "{}", span.duration());
    assert_eq!(span.fragments(), 2);
    span.reset();
    let mut c = fragment(1, 1_080_000, 25, 3600);
    span.push(&mut c).unwrap();
    assert_eq!(tfdt_of(&c), 0, "the next part starts at 0 again");
}

#[test]
fn broken_boxes_are_precise_errors_and_change_nothing() {
    assert!(matches!(Fmp4Span::from_init(b"not mp4"), Err(StreamError::Fmp4(_))));
    let mut span = Fmp4Span::from_init(&init(1, 1000)).unwrap();
    let mut other_track = fragment(7, 5000, 1, 10);
    let before = other_track.clone();
    let err = span.push(&mut other_track).unwrap_err();
    assert!(err.to_string().contains("track 7 is not in the init section"), "{err}");
    assert_eq!(other_track, before);
    // A trun that claims more samples than it holds.
    let tfhd = boxed(b"tfhd", &full(0, 0, &1u32.to_be_bytes()));
    let tfdt = boxed(b"tfdt", &full(0, 0, &0u32.to_be_bytes()));
    let trun = boxed(b"trun", &full(0, 0x100, &u32::MAX.to_be_bytes()));
    let mut lying = boxed(b"moof", &boxed(b"traf", &[tfhd, tfdt, trun].concat()));
    assert!(span.push(&mut lying).unwrap_err().to_string().contains("holds fewer"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Fmp4Span::from_init(&bytes);
        let mut span = Fmp4Span::from_init(&init(1, 48_000)).unwrap();
        let mut seg = bytes.clone();
        let _ = span.push(&mut seg);
        let _ = span.duration();
        // Mutations of a valid fragment.
        let mut frag = fragment(1, 1 << 40, 4, 1024);
        for (i, b) in bytes.iter().enumerate().take(16) {
            let at = (usize::from(*b) * 7 + i) % frag.len();
            frag[at] = *b;
        }
        let _ = span.push(&mut frag);
        let _ = span.duration();
    }
}
