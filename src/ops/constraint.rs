//! Actions for this kind of operation (to be written).
