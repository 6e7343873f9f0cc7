//! Typed ids. On the wire they are opaque strings (UUIDv7 text today).

use crate::error::ValueError;
use jiff::Timestamp;
use rand::RngCore;
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7) from the given time and randomness.
            pub fn generate(now: Timestamp, rng: &mut dyn RngCore) -> Self {
                Self(new_v7(now, rng))
            }

            pub fn parse(s: &str) -> Result<Self, ValueError> {
                Uuid::try_parse(s.trim()).map(Self).map_err(|_| ValueError::new("is not a valid id"))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    )*};
}

id_type!(
    PersonId,
    OrganizationId,
    DealId,
    ActivityId,
    UserId,
    TagId,
    PipelineId,
    CustomFieldId,
    TokenId
);

/// Makes UUIDv7 values that strictly increase, also within one millisecond and when the
/// clock steps back (RFC 9562, method 1: a 12-bit counter in `rand_a`, seeded randomly each
/// millisecond; on overflow the timestamp moves one millisecond ahead). Lists sorted by id
/// are then sorted by creation.
#[derive(Debug, Default)]
pub struct IdGenerator {
    last_ms: u64,
    counter: u16,
}

const COUNTER_MAX: u16 = 0x0FFF;

impl IdGenerator {
    pub fn next(&mut self, now: Timestamp, rng: &mut dyn RngCore) -> Uuid {
        let ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
        if ms > self.last_ms {
            self.last_ms = ms;
            // Start low in the counter range so that many ids fit into one millisecond.
            self.counter = (rng.next_u32() & 0x01FF) as u16;
        } else if self.counter >= COUNTER_MAX {
            self.last_ms += 1;
            self.counter = 0;
        } else {
            self.counter += 1;
        }
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&self.last_ms.to_be_bytes()[2..]);
        b[6] = 0x70 | ((self.counter >> 8) as u8 & 0x0F);
        b[7] = (self.counter & 0xFF) as u8;
        rng.fill_bytes(&mut b[8..]);
        b[8] = 0x80 | (b[8] & 0x3F);
        Uuid::from_bytes(b)
    }
}

fn new_v7(now: Timestamp, rng: &mut dyn RngCore) -> Uuid {
    let mut random = [0u8; 10];
    rng.fill_bytes(&mut random);
    let ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    proptest! {
        #[test]
        fn generated_ids_strictly_increase_whatever_the_clock_does(steps in prop::collection::vec(-3i64..4, 1..3000)) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            let mut g = IdGenerator::default();
            let mut t = 1_700_000_000_000i64;
            let mut last = g.next(Timestamp::from_millisecond(t).unwrap(), &mut rng);
            for s in steps {
                t += s;
                let id = g.next(Timestamp::from_millisecond(t).unwrap(), &mut rng);
                prop_assert!(id > last);
                prop_assert_eq!(id.get_version_num(), 7);
                last = id;
            }
        }
    }

    #[test]
    fn ids_round_trip_through_text_and_sort_by_time() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = PersonId::generate(Timestamp::from_second(1_700_000_000).unwrap(), &mut rng);
        let b = PersonId::generate(Timestamp::from_second(1_700_000_001).unwrap(), &mut rng);
        assert!(a < b);
        assert_eq!(PersonId::parse(&a.to_string()).unwrap(), a);
        assert!(PersonId::parse("not-an-id").is_err());
    }
}
