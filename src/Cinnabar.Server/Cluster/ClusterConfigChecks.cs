namespace Cinnabar.Server.Cluster;

/// <summary>Validation of the cluster directives that Redis checks beyond their type (config.c).</summary>
public static class ClusterConfigChecks
{
    /// <summary>isValidAnnouncedHostname: under 256 characters of A-Z a-z 0-9 '-' '.'; null when valid.</summary>
    public static string HostnameError(string v)
    {
        if (v.Length >= 256) return "Hostnames must be less than 256 characters";
        foreach (char ch in v)
            if (!(char.IsAsciiLetterOrDigit(ch) || ch == '-' || ch == '.')) return "Hostnames may only contain alphanumeric characters, hyphens or dots";
        return null;
    }
}
