//! The policy engine: legal bases, purposes, the consent ledger and the decision gate
//! (LAW.md B.1–B.3, B.9). Pure: time is a parameter, nothing is read or written.

pub mod consent;
pub mod gate;
pub mod purpose;

pub use consent::{
    ConsentConfig, ConsentEvent, ConsentEventKind, ConsentSource, ConsentState, consent_state,
};
pub use gate::{
    ContractRelationship, Decision, ExistingCustomer, Objection, ObjectionScope, PersonFacts,
    PresumedConsent, ReasonCode, decide, decide_with,
};
pub use purpose::{
    Channel, LegalBasis, Purpose, default_purposes, default_wordings, parse_purpose_key,
};

#[cfg(test)]
mod gate_tests;
