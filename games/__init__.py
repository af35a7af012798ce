"""Games: campaigns, prizes, earned plays, server-decided draws and their fairness proofs."""
