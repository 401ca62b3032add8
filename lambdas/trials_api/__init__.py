"""The trials API: `POST /trials` stores a trial request, `GET /trials/{trialId}` reads it back."""
