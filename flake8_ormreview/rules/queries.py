"""ORM103 and ORM2xx: how the code queries the models (query sites, loops)."""
