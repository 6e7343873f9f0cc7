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

fn new_v7(now: Timestamp, rng: &mut dyn RngCore) -> Uuid {
    let mut random = [0u8; 10];
    rng.fill_bytes(&mut random);
    let ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

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
