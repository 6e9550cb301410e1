namespace Cinnabar.Server.Commands;

/// <summary>
/// The two sorts whose tie order Redis's replies show: glibc's qsort (what redis-server calls; for these element
/// sizes a top-down merge sort, so stable) and Redis's own pqsort (pqsort.c, a partial quicksort for
/// SORT ... LIMIT and GEOSEARCH ... COUNT). Comparators that return 0 for distinct elements leave them in the order
/// these algorithms do, so Cinnabar runs the same algorithms.
/// </summary>
public static class CSort
{
    /// <summary>glibc's qsort (msort_with_tmp): split at n/2, sort both halves, merge taking the left on ties.</summary>
    public static void Qsort<T>(T[] a, int n, Comparison<T> cmp)
    {
        if (n > 1) MergeSort(a, 0, n, cmp, new T[n]);
    }

    static void MergeSort<T>(T[] a, int start, int n, Comparison<T> cmp, T[] tmp)
    {
        if (n <= 1) return;
        int n1 = n / 2, n2 = n - n1;
        MergeSort(a, start, n1, cmp, tmp);
        MergeSort(a, start + n1, n2, cmp, tmp);
        int i = start, j = start + n1, k = 0;
        int iEnd = start + n1, jEnd = start + n;
        while (i < iEnd && j < jEnd) tmp[k++] = cmp(a[i], a[j]) <= 0 ? a[i++] : a[j++];
        while (i < iEnd) tmp[k++] = a[i++];
        Array.Copy(tmp, 0, a, start, k);
    }

    /// <summary>
    /// Redis's pqsort over a[0..n): Bentley-McIlroy quicksort (NetBSD qsort, without the switch to insertion sort
    /// after a partition that swapped nothing) that only recurses into partitions overlapping the ranks [lo, hi].
    /// </summary>
    public static void Pqsort<T>(T[] a, int n, Comparison<T> cmp, long lo, long hi) => PartialQuickSort(a, 0, n, cmp, lo, hi);

    static void Swap<T>(T[] a, int i, int j) => (a[i], a[j]) = (a[j], a[i]);

    static void VecSwap<T>(T[] a, int i, int j, int n)
    {
        for (int k = 0; k < n; k++) Swap(a, i + k, j + k);
    }

    static int Med3<T>(T[] a, int x, int y, int z, Comparison<T> cmp) =>
        cmp(a[x], a[y]) < 0
            ? (cmp(a[y], a[z]) < 0 ? y : cmp(a[x], a[z]) < 0 ? z : x)
            : (cmp(a[y], a[z]) > 0 ? y : cmp(a[x], a[z]) < 0 ? x : z);

    static void InsertionSort<T>(T[] a, int start, int n, Comparison<T> cmp)
    {
        for (int m = start + 1; m < start + n; m++)
            for (int l = m; l > start && cmp(a[l - 1], a[l]) > 0; l--) Swap(a, l, l - 1);
    }

    static void PartialQuickSort<T>(T[] a, int start, int n, Comparison<T> cmp, long lo, long hi)
    {
        while (true)
        {
            if (n < 7)
            {
                InsertionSort(a, start, n, cmp);
                return;
            }
            int pm = start + n / 2;
            if (n > 7)
            {
                int pl = start, pn = start + n - 1;
                if (n > 40)
                {
                    int d = n / 8;
                    pl = Med3(a, pl, pl + d, pl + 2 * d, cmp);
                    pm = Med3(a, pm - d, pm, pm + d, cmp);
                    pn = Med3(a, pn - 2 * d, pn - d, pn, cmp);
                }
                pm = Med3(a, pl, pm, pn, cmp);
            }
            Swap(a, start, pm);
            int pa = start + 1, pb = pa, pc = start + n - 1, pd = pc;
            while (true)
            {
                int r;
                while (pb <= pc && (r = cmp(a[pb], a[start])) <= 0)
                {
                    if (r == 0) { Swap(a, pa, pb); pa++; }
                    pb++;
                }
                while (pb <= pc && (r = cmp(a[pc], a[start])) >= 0)
                {
                    if (r == 0) { Swap(a, pc, pd); pd--; }
                    pc--;
                }
                if (pb > pc) break;
                Swap(a, pb, pc);
                pb++;
                pc--;
            }
            int end = start + n;
            int s = Math.Min(pa - start, pb - pa);
            VecSwap(a, start, pb - s, s);
            s = Math.Min(pd - pc, end - pd - 1);
            VecSwap(a, pb, end - s, s);
            if ((s = pb - pa) > 1)
            {
                int first = start, last = start + s - 1;
                if (!((lo < first && hi < first) || (lo > last && hi > last))) PartialQuickSort(a, first, s, cmp, lo, hi);
            }
            if ((s = pd - pc) > 1)
            {
                start = end - s;
                n = s;
                int last = start + s - 1;
                if (!((lo < start && hi < start) || (lo > last && hi > last))) continue;
            }
            return;
        }
    }
}
