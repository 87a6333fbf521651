//! decode (being built)
