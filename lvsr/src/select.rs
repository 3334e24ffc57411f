//! See docs/srenhance-design.md.
