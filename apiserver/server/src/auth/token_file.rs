//! `--token-auth-file`: static bearer tokens, one CSV record per token
//! (`token,user,uid,"group1,group2"`), as upstream's `tokenfile` authenticator reads them.

use super::UserInfo;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default)]
pub struct TokenFile {
    tokens: HashMap<String, UserInfo>,
}

impl TokenFile {
    pub fn load(path: &Path) -> Result<TokenFile, String> {
        let data = std::fs::read(path).map_err(|e| format!("reading token file {}: {e}", path.display()))?;
        Self::parse(&data, &path.display().to_string())
    }

    pub fn parse(data: &[u8], name: &str) -> Result<TokenFile, String> {
        let mut rdr =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::Fields).from_reader(data);
        let mut tokens = HashMap::new();
        for (n, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| format!("token file '{name}': {e}"))?;
            if rec.len() < 3 {
                return Err(format!(
                    "token file '{name}' must have at least 3 columns (token, user name, user uid), found {}",
                    rec.len()
                ));
            }
            let token = rec[0].to_string();
            if token.is_empty() {
                continue;
            }
            let groups = rec
                .get(3)
                .map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect())
                .unwrap_or_default();
            let user = UserInfo { name: rec[1].to_string(), uid: rec[2].to_string(), groups, ..Default::default() };
            if tokens.insert(token, user).is_some() {
                tracing::warn!("duplicate token has been found in token file '{name}', record number '{}'", n + 1);
            }
        }
        Ok(TokenFile { tokens })
    }

    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        self.tokens.get(token).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_format() {
        let f = TokenFile::parse(b"abc,jane,1001,\"devs,ops\"\nxyz,bob,1002\n", "t").unwrap();
        let u = f.authenticate("abc").unwrap();
        assert_eq!((u.name.as_str(), u.uid.as_str()), ("jane", "1001"));
        assert_eq!(u.groups, vec!["devs", "ops"]);
        assert!(f.authenticate("xyz").unwrap().groups.is_empty());
        assert!(f.authenticate("nope").is_none());
        let e = TokenFile::parse(b"abc,jane\n", "t").unwrap_err();
        assert_eq!(e, "token file 't' must have at least 3 columns (token, user name, user uid), found 2");
    }
}
