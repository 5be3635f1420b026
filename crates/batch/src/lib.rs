//! **The batch** of Multi-Shot Studio: many photos, one press. A module of its own,
//! which the page loads the first time several photos are chosen, dropped or pasted (or
//! when it opens and finds a batch saved): its card with a row per photo, **Generate
//! all**, **Retry failed**, **Cancel all waiting**, Pause and **Download all results**;
//! its queue; the photos' files, kept until their task is done.
//!
//! Every rule is the page's pure core, `multishot_studio::core::batch` (the queue as a
//! reducer, property-tested natively); this crate is its glue and its view, in plain
//! DOM, so that the page's first load — the consumer embed's visitors, on phones, who
//! never use a batch — carries none of it. The page and the module talk through one
//! element (`core::batch::SLOT` has the protocol): the page sends each upload and submit
//! with its own connection (the key never leaves it) and keeps and polls every task the
//! batch makes, as it does one made by Generate; the module reads their records where
//! the page saves them.

#![warn(missing_docs)]

#[cfg(feature = "module")]
mod module;
