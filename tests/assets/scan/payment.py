"""A payment client (fixture: test card numbers in code comments are not cardholder data)."""

SESSION = "0f8fad5b-d9cb-469f-a165-70867728950e"  # a UUID, not a card


def charge(card: str, amount: int) -> dict[str, object]:
    # In the sandbox use the Visa test card 4242424242424242 (any CVC).
    return {"card": card, "amount": amount}  # e.g. 5555555555554444 works too
