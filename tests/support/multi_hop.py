"""A two-page corpus whose answer is reachable only through the bridge entity of the first page."""

PRIZE = "https://example.org/zorblax-prize"
FOUNDER = "https://example.org/mira-castellan"
QUESTION = "In which city was the founder of the Zorblax Prize born?"
PAGES = {
    PRIZE: ("Zorblax Prize", (
        "The Zorblax Prize is an annual award for research in marine chemistry. "
        "It was founded in 1931 by Mira Castellan, a chemist who spent her career studying coral reefs. "
        "The prize is presented each spring in a ceremony attended by the previous laureates."
    )),
    # Shares no content word with the question: only the bridge entity leads here.
    FOUNDER: ("Mira Castellan", (
        "Mira Castellan came into the world in Vellport, a harbour town on the northern coast, in 1889. "
        "Castellan studied at the Vellport Academy before moving abroad to work on reef ecology."
    )),
    "https://example.org/coral": ("Coral reef chemistry", (
        "Coral reefs are built by colonies of tiny animals that secrete calcium carbonate. "
        "Marine chemistry describes how ocean acidity changes the growth of reefs."
    )),
    "https://example.org/awards": ("Science awards", (
        "Many science awards were founded in the twentieth century by wealthy patrons. "
        "A prize is usually presented by a committee of former winners."
    )),
}
