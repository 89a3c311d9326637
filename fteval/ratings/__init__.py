"""Human ratings of free-form outputs: blinded rating sheets, the rating page, import, agreement."""
