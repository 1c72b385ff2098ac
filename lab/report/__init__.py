"""What a lab and its checks look like to people and programs: console, JSON and JUnit results,
`lab graph` pictures, and `lab bundle` archives."""
