//! The profile as self-service routes answer it. Every field of the registry appears,
//! `null` when unset, and the three consent booleans are views of their channels.

use domain::{Channel, Field, Profile};
use serde::ser::{Serialize, SerializeMap, Serializer};

pub struct ProfileBody<'a>(pub &'a Profile);

impl Serialize for ProfileBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("user_id", &p.user_id)?;
        map.serialize_entry("email", &p.email)?;
        for field in Field::ALL {
            map.serialize_entry(field.name(), &p.field(field))?;
        }
        map.serialize_entry("phone", &p.phone)?;
        map.serialize_entry("phone_verified", &p.phone_verified)?;
        map.serialize_entry("attributes", &p.attributes)?;
        for channel in Channel::ALL {
            if let Some(flag) = channel.profile_flag() {
                map.serialize_entry(flag, &p.allows(channel))?;
            }
        }
        map.serialize_entry("avatar_url", &p.avatar_url)?;
        map.serialize_entry("created_at", &p.created_at)?;
        map.serialize_entry("updated_at", &p.updated_at)?;
        map.serialize_entry("version", &p.version)?;
        map.end()
    }
}
